"""The card's journey: release cards from stock for sale, void them for good.

Both are bulk actions on the generic machinery of `bulk.py`: a small selection is one
transaction, a large one a background job in id-ordered chunks; each card's row is locked and
its "may change" condition re-checked on the row itself, so a redemption running at the same
moment sees a card either still in stock (refused) or released (credited), never half of it,
and a card a redemption activated is never voided.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from locales.formats import number
from resellers.models import AuditEvent, Reseller
from resellers.scoping import RESELLER_OUT_OF_SCOPE, reseller_ids_visible_to

from ..models import CHANGEABLE, STATUS_CONDITIONS, Card
from .bulk.actions import BulkAction, BulkResult, bulk_action
from .bulk.apply import cards_bulk_apply
from .four_eyes import FourEyes, four_eyes_check


@bulk_action
@dataclass(frozen=True)
class Release(BulkAction):
    """Release cards in stock for sale (a box shipped), optionally moving them to a reseller.

    Only cards in stock and not expired change; every other card of the selection is skipped.
    """

    kind: ClassVar[str] = "release"
    title: ClassVar[str] = _("Release")
    right: ClassVar[str] = "topup.release_cards"
    audit_action: ClassVar[AuditEvent.Action] = AuditEvent.Action.CARDS_RELEASED
    skip_note: ClassVar[str] = _("only cards in stock and not expired are released")

    @classmethod
    def changed_text(cls, n: int) -> str:
        return ngettext("%(n)s card released.", "%(n)s cards released.", n) % {"n": number(n)}

    reseller: Reseller | None = None  # the shop that receives the box; None: owners stay
    released_at: datetime = field(default_factory=timezone.now)

    def may_change(self) -> Q:
        return STATUS_CONDITIONS["in_stock"]

    def changes(self) -> dict:
        changes = {"status": Card.Status.NEW, "released_at": self.released_at}
        if self.reseller is not None:
            changes["reseller"] = self.reseller
        return changes

    def validate(self, *, user) -> None:
        if self.reseller is not None and self.reseller.pk not in reseller_ids_visible_to(user):
            raise ValidationError({"reseller": RESELLER_OUT_OF_SCOPE})

    def check(self, *, user, cards) -> None:
        four_eyes_check(user=user, cards=cards, action=FourEyes.RELEASE)

    def describe(self) -> dict:
        described = {"released_at": self.released_at.isoformat()}
        if self.reseller is not None:
            described["reseller"] = self.reseller.pk
        return described

    @classmethod
    def from_description(cls, data: dict) -> "Release":
        reseller = None
        if data.get("reseller") is not None:
            reseller = Reseller.objects.filter(pk=data["reseller"]).first()
            if reseller is None:
                raise ValidationError(
                    {
                        "reseller": ValidationError(
                            _("The receiving company no longer exists."), code="gone"
                        )
                    }
                )
        when = parse_datetime(data["released_at"]) if data.get("released_at") else None
        return cls(reseller=reseller, released_at=when or timezone.now())

    def summary(self) -> str:
        if self.reseller is None:
            return str(self.title)
        return gettext("Release to %(company)s") % {"company": self.reseller}


@bulk_action
@dataclass(frozen=True)
class Void(BulkAction):
    """Void cards for good (a lost print run): never redeemable, never unblockable again.

    Cards in stock, new or blocked change; activated and already void cards are skipped. A
    voided card keeps its row, and an activated card its ledger history.
    """

    kind: ClassVar[str] = "void"
    title: ClassVar[str] = _("Void")
    right: ClassVar[str] = "topup.void_cards"
    audit_action: ClassVar[AuditEvent.Action] = AuditEvent.Action.CARDS_VOIDED
    skip_note: ClassVar[str] = _("activated and void cards are never voided")

    @classmethod
    def changed_text(cls, n: int) -> str:
        return ngettext("%(n)s card voided.", "%(n)s cards voided.", n) % {"n": number(n)}

    def may_change(self) -> Q:
        return CHANGEABLE

    def changes(self) -> dict:
        return {"status": Card.Status.VOID}


def cards_release(
    *, user, cards, selection: dict, reseller: Reseller | None = None, background=None
) -> BulkResult:
    """Release the cards in stock among `cards` (a queryset) in the user's scope.

    Needs the release right; with four eyes on, refused (ValidationError saying why) when the
    user generated a series among them. `reseller` (in the user's scope) receives them.
    """
    return cards_bulk_apply(
        user=user,
        action=Release(reseller=reseller),
        cards=cards,
        selection=selection,
        background=background,
    )


def cards_void(*, user, cards, selection: dict, background=None) -> BulkResult:
    """Void the cards among `cards` (a queryset) in the user's scope that are not activated."""
    return cards_bulk_apply(
        user=user, action=Void(), cards=cards, selection=selection, background=background
    )
