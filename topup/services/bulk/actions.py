"""The bulk action contract (see the package docstring), its registry, mass edit and delete."""

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django.utils.translation import ngettext

from resellers.models import AuditEvent, Reseller
from resellers.scoping import RESELLER_OUT_OF_SCOPE, reseller_ids_visible_to
from wallets.models import WalletEntry
from wallets.pricing import CardGroup
from wallets.services import CardMove

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
    verb: ClassVar[str] = "changed"  # "27 cards changed", "27 cards deleted"
    skip_note: ClassVar[str] = ""  # why cards are skipped; default: activated never {verb}

    @classmethod
    def skipped_because(cls) -> str:
        return cls.skip_note or f"activated cards are never {cls.verb}"

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

    def moves_money(self) -> bool:
        """Whether changing cards posts to resellers' wallets: each chunk then groups the
        cards it is about to change (`Changed`) and posts `wallet_moves(groups)` in its own
        transaction (`wallets.services.wallet_cards_post`)."""
        return False

    def wallet_moves(self, groups: list["Changed"]) -> list[CardMove]:
        """What changing these cards costs or gives back, per reseller (see `moves_money`)."""
        return []

    def may_debit(self) -> bool:
        """Whether a wallet may have to pay (so the selection is checked before it starts)."""
        return self.moves_money()


@dataclass(frozen=True)
class Changed:
    """`count` cards about to change, alike in what prices them: owner, series, amount,
    currency, and whether they are paid stock (`PAID_STOCK`: released, neither redeemed nor
    void: paid for when their owner is prepaid)."""

    reseller_id: int
    series_id: int
    amount: object  # Decimal
    currency: str
    paid: bool
    count: int


def card_moves(groups, *, kind, debit: bool, to: int | None = None, paid=None):
    """CardMoves of `groups` for their owners (or for `to`), one per reseller and currency;
    `paid` keeps only the groups of paid stock (True) or the others (False)."""
    moves: dict[tuple[int, str], list[CardGroup]] = {}
    for group in groups:
        if paid is not None and group.paid != paid:
            continue
        key = (to if to is not None else group.reseller_id, group.currency)
        moves.setdefault(key, []).append(CardGroup(group.series_id, group.amount, group.count))
    return [
        CardMove(reseller_id=owner, currency=currency, kind=kind, groups=tuple(cards), debit=debit)
        for (owner, currency), cards in moves.items()
    ]


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
    "no_expiry": "Enter the new expiry date, or choose preserve.",
    "no_company": "Choose the new company, or choose preserve.",
    "nothing": "Nothing to change: every field is set to preserve.",
}


@bulk_action
@dataclass(frozen=True)
class MassEdit(BulkAction):
    """One mode per field, as on the Mass Edit form."""

    kind: ClassVar[str] = "mass_edit"
    title: ClassVar[str] = "Mass edit"
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

    skip_note: ClassVar[str] = "activated and void cards are never changed"

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
            raise ValidationError(
                {
                    "reseller": (
                        f"{self.reseller} works in {target}, but "
                        f"{ngettext('%(n)s card', '%(n)s cards', count) % {'n': f'{count:,}'}} "
                        f"of this selection {ngettext('is', 'are', count)} in "
                        f"{', '.join(currencies)}: its customers could never redeem "
                        f"{ngettext('it', 'them', count)}. Choose a company that works in "
                        f"{' or '.join(currencies)}, or narrow the selection to {target} cards."
                    )
                }
            )

    def moves_money(self) -> bool:
        return self.reseller_mode == "set" and self.reseller is not None

    def wallet_moves(self, groups: list[Changed]) -> list[CardMove]:
        """Released cards that change owner: their price back to the owner they leave, the
        new owner's price from the one they reach (prepaid wallets only)."""
        leaving = [
            group for group in groups if group.paid and group.reseller_id != self.reseller.pk
        ]
        return card_moves(leaving, kind=WalletEntry.Kind.MOVE_OUT, debit=False) + card_moves(
            leaving, kind=WalletEntry.Kind.MOVE_IN, debit=True, to=self.reseller.pk
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
        parts = []
        if self.expiry_mode == "set":
            parts.append(f"expiry date set to {self.expires_at:%Y-%m-%d %H:%M %Z}")
        elif self.expiry_mode == "clear":
            parts.append("expiry date cleared")
        if self.reseller_mode == "set":
            parts.append(f"company set to {self.reseller}")
        if self.status_mode != "preserve":
            parts.append(f"status: {self.status_mode}")
        return f"{self.title}: {', '.join(parts)}"

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
                raise ValidationError({"reseller": "The new company no longer exists."})
            edit.update(reseller_mode="set", reseller=reseller)
        if "status" in data:
            edit["status_mode"] = "block" if data["status"] == Card.Status.BLOCKED else "unblock"
        return cls(**edit)


@bulk_action
@dataclass(frozen=True)
class Delete(BulkAction):
    """Delete cards for good. Activated cards are kept (skipped): their history stays whole."""

    kind: ClassVar[str] = "delete"
    title: ClassVar[str] = "Delete"
    right: ClassVar[str] = "topup.delete_card"
    audit_action: ClassVar[AuditEvent.Action] = AuditEvent.Action.CARDS_DELETED
    verb: ClassVar[str] = "deleted"

    def changes(self) -> None:
        return None

    def moves_money(self) -> bool:
        return True

    def wallet_moves(self, groups: list[Changed]) -> list[CardMove]:
        """Released cards deleted unredeemed: their price back to their prepaid owner."""
        return card_moves(groups, kind=WalletEntry.Kind.DELETE, debit=False, paid=True)

    def may_debit(self) -> bool:
        return False  # a delete only gives money back
