"""The bulk action contract (see the package docstring), its registry, mass edit and delete."""

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from babel.lists import format_list
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from locales.formats import current_locale, local_datetime, number
from resellers.models import AuditEvent, Reseller
from resellers.scoping import RESELLER_OUT_OF_SCOPE, reseller_ids_visible_to

from ...fields import DATE_BOUNDS_MESSAGE, in_date_bounds
from ...models import CHANGEABLE, Card

# --- The bulk action contract ----------------------------------------------------------------
BULK_ACTIONS: dict[str, type["BulkAction"]] = {}


def bulk_action(cls):
    """Register a BulkAction subclass under its `kind` (background jobs rebuild it by kind)."""
    BULK_ACTIONS[cls.kind] = cls
    return cls


class BulkAction:
    """One kind of change to many cards. See the module docstring for how to add one."""

    kind: ClassVar[str]
    title: ClassVar[str]
    right: ClassVar[str]
    audit_action: ClassVar[AuditEvent.Action]
    skip_note: ClassVar[str] = _("activated cards are never changed")  # why cards are skipped

    @classmethod
    def skipped_because(cls) -> str:
        return str(cls.skip_note)

    @classmethod
    def changed_text(cls, n: int) -> str:
        """What changed, as a sentence in the user's language: "27 cards changed." (each
        action says it with its own verb)."""
        return ngettext("%(n)s card changed.", "%(n)s cards changed.", n) % {"n": number(n)}

    @classmethod
    def result_text(cls, changed: int, skipped: int) -> str:
        """The outcome: "5 cards changed. 1 card skipped: activated cards are never changed." """
        text = cls.changed_text(changed)
        if not skipped:
            return text
        skipped_text = ngettext(
            "%(n)s card skipped: %(why)s.", "%(n)s cards skipped: %(why)s.", skipped
        ) % {"n": number(skipped), "why": cls.skipped_because()}
        return f"{text} {skipped_text}"  # two whole sentences

    def may_change(self) -> Q:
        """Which rows may change, on the card's own columns: checked on each row under its lock."""
        return ~Q(status=Card.Status.ACTIVATED)

    def changes(self) -> dict | None:
        """{field name: plain value or expression on the card's own columns} to set, or None
        to delete the rows."""
        raise NotImplementedError

    def validate(self, *, user) -> None:
        """Raise ValidationError (by field) for parameters this user may not use."""

    def check(self, *, user, cards) -> None:
        """Raise ValidationError when this user may not apply it to these cards (the
        selection, already in scope), e.g. four eyes; run before any card changes."""

    def describe(self) -> dict:
        """The parameters as JSON (the audit event and a background job keep them)."""
        return {}

    @classmethod
    def from_description(cls, data: dict) -> "BulkAction":
        return cls()

    def summary(self) -> str:
        """What it does, in words, for the job page."""
        return self.title


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did; in the background, `job` is set and the counts are still 0."""

    changed: int = 0
    skipped: int = 0
    job: object | None = None

    @property
    def selected(self) -> int:
        return self.changed + self.skipped


class BulkBusy(ValidationError):
    """Other work kept colliding with the action after every retry; nothing (more) was changed."""


# --- Mass edit and delete --------------------------------------------------------------------
# What the Mass Edit form and the service say about its parameters, said once.
MASS_EDIT_MESSAGES = {
    "no_expiry": _("Enter the new expiry date, or choose preserve."),
    "no_company": _("Choose the new company, or choose preserve."),
    "nothing": _("Nothing to change: every field is set to preserve."),
}


@bulk_action
@dataclass(frozen=True)
class MassEdit(BulkAction):
    """One mode per field, as on the Mass Edit form."""

    kind: ClassVar[str] = "mass_edit"
    title: ClassVar[str] = _("Mass edit")
    right: ClassVar[str] = "topup.mass_edit_cards"
    audit_action: ClassVar[AuditEvent.Action] = AuditEvent.Action.CARDS_MASS_EDITED

    expiry_mode: str = "preserve"  # preserve | set | clear
    expires_at: datetime | None = None
    reseller_mode: str = "preserve"  # preserve | set
    reseller: Reseller | None = None
    status_mode: str = "preserve"  # preserve | block | unblock

    def changes(self) -> dict:
        changes = {}
        if self.expiry_mode == "set":
            changes["expires_at"] = self.expires_at
        elif self.expiry_mode == "clear":
            changes["expires_at"] = None
        if self.reseller_mode == "set":
            changes["reseller"] = self.reseller
        if self.status_mode == "block":
            changes["status"] = Card.Status.BLOCKED
        elif self.status_mode == "unblock":
            # Back to where it was: new if it had been released, else in stock.
            changes["status"] = Card.unblocked_status()
        return changes

    skip_note: ClassVar[str] = _("activated and void cards are never changed")

    def may_change(self) -> Q:
        """Activated and void cards are never changed (void is for good: never unblocked); a
        card moves only to a company of its own currency."""
        condition = CHANGEABLE
        if self.reseller_mode == "set" and self.reseller is not None:
            condition &= Q(currency=self.reseller.currency)
        return condition

    def check(self, *, user, cards) -> None:
        """A company's customers redeem cards of its currency only: moving cards of another
        currency to it would strand them, so the whole edit is refused, saying why."""
        if self.reseller_mode != "set" or self.reseller is None:
            return
        target = self.reseller.currency
        others = cards.filter(CHANGEABLE).exclude(currency=target)
        currencies = sorted(set(others.values_list("currency", flat=True).distinct()[:4]))
        if currencies:
            count = others.count()
            message = ngettext(
                "%(company)s works in %(currency)s, but %(n)s card of this selection is in "
                "%(currencies)s: its customers could never redeem it. Choose a company that "
                "works in %(currencies)s, or narrow the selection to %(currency)s cards.",
                "%(company)s works in %(currency)s, but %(n)s cards of this selection are in "
                "%(currencies)s: its customers could never redeem them. Choose a company that "
                "works in %(currencies)s, or narrow the selection to %(currency)s cards.",
                count,
            )
            raise ValidationError(
                {
                    "reseller": ValidationError(
                        message,
                        code="currency_mismatch",
                        params={
                            "company": self.reseller,
                            "currency": target,
                            "n": number(count),
                            "currencies": ", ".join(currencies),
                        },
                    )
                }
            )

    def problems(self, *, user) -> dict[str | None, str]:
        """What is wrong with these parameters for this user, {field or None: message}: the
        one home of the mass edit's rules, which the Mass Edit form shows field by field."""
        problems: dict[str | None, str] = {}
        if self.expiry_mode == "set":
            if self.expires_at is None:
                problems["expires_at"] = MASS_EDIT_MESSAGES["no_expiry"]
            elif not in_date_bounds(self.expires_at):
                problems["expires_at"] = DATE_BOUNDS_MESSAGE
        if self.reseller_mode == "set":
            if self.reseller is None:
                problems["reseller"] = MASS_EDIT_MESSAGES["no_company"]
            elif self.reseller.pk not in reseller_ids_visible_to(user):
                problems["reseller"] = RESELLER_OUT_OF_SCOPE
        if (self.expiry_mode, self.reseller_mode, self.status_mode) == ("preserve",) * 3:
            problems[None] = MASS_EDIT_MESSAGES["nothing"]
        return problems

    def validate(self, *, user) -> None:
        if self.status_mode != "preserve" and not user.has_perm("topup.block_cards"):
            raise PermissionDenied
        if problems := self.problems(user=user):
            raise ValidationError(
                {field or NON_FIELD_ERRORS: message for field, message in problems.items()}
            )

    def describe(self) -> dict:
        described = {
            key: (value.pk if isinstance(value, Reseller) else value)
            for key, value in self.changes().items()
        }
        if self.expiry_mode == "set":
            described["expires_at"] = self.expires_at.isoformat()
        if self.status_mode == "unblock":
            described["status"] = "unblocked"
        return described

    def summary(self) -> str:
        locale = current_locale()
        parts = []
        if self.expiry_mode == "set":
            parts.append(
                gettext("expiry date set to %(when)s") % {"when": local_datetime(self.expires_at)}
            )
        elif self.expiry_mode == "clear":
            parts.append(gettext("expiry date cleared"))
        if self.reseller_mode == "set":
            parts.append(gettext("company set to %(company)s") % {"company": self.reseller})
        if self.status_mode == "block":
            parts.append(gettext("cards blocked"))
        elif self.status_mode == "unblock":
            parts.append(gettext("cards unblocked"))
        return gettext("%(action)s: %(changes)s") % {
            "action": self.title,
            "changes": format_list(parts, style="unit", locale=locale),
        }

    @classmethod
    def from_description(cls, data: dict) -> "MassEdit":
        edit = {}
        if "expires_at" in data:
            when = data["expires_at"]
            edit.update(
                expiry_mode="set" if when else "clear",
                expires_at=parse_datetime(when) if when else None,
            )
        if "reseller" in data:
            reseller = Reseller.objects.filter(pk=data["reseller"]).first()
            if reseller is None:
                raise ValidationError(
                    {
                        "reseller": ValidationError(
                            _("The new company no longer exists."), code="gone"
                        )
                    }
                )
            edit.update(reseller_mode="set", reseller=reseller)
        if "status" in data:
            edit["status_mode"] = "block" if data["status"] == Card.Status.BLOCKED else "unblock"
        return cls(**edit)


@bulk_action
@dataclass(frozen=True)
class Delete(BulkAction):
    """Delete cards for good. Activated cards are kept (skipped): their history stays whole."""

    kind: ClassVar[str] = "delete"
    title: ClassVar[str] = _("Delete")
    right: ClassVar[str] = "topup.delete_card"
    audit_action: ClassVar[AuditEvent.Action] = AuditEvent.Action.CARDS_DELETED
    skip_note: ClassVar[str] = _("activated cards are never deleted")

    @classmethod
    def changed_text(cls, n: int) -> str:
        return ngettext("%(n)s card deleted.", "%(n)s cards deleted.", n) % {"n": number(n)}

    def changes(self) -> None:
        return None
