"""Actions on many cards at once: mass edit, delete, export; and reading one PIN."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from resellers.models import Reseller
from resellers.scoping import reseller_ids_visible_to

from ..models import Card, audit
from ..pins import pin_service


@sensitive_variables("pin")
def card_reveal_pin(*, user, card: Card) -> str:
    """The plain PIN of one card, for a user with the reveal right; audited."""
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    pin = pin_service.decrypt(card.pin_encrypted, card.pin_key_version, card.number)
    audit("card.pin_revealed", actor=user, card=card.pk, number=card.number)
    return pin


# --- Mass edit and delete -----------------------------------------------------------------
@dataclass(frozen=True)
class MassEdit:
    """One mode per field, as on the Mass Edit form."""

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
            changes["status"] = Card.Status.NEW
        return changes

    def describe(self) -> dict:
        return {
            key: (value.pk if isinstance(value, Reseller) else value)
            for key, value in self.changes().items()
        } | ({"expires_at": self.expires_at.isoformat()} if self.expiry_mode == "set" else {})


@dataclass(frozen=True)
class MassEditResult:
    changed: int
    skipped: int


def cards_in_scope(*, user, cards):
    """`cards` narrowed to the user's reseller subtree: the guard every bulk action passes."""
    return cards.filter(reseller_id__in=reseller_ids_visible_to(user))


def cards_mass_update(*, user, cards, edit: MassEdit, selection: dict) -> MassEditResult:
    """Apply `edit` to the cards (a queryset) in the user's scope, in one transaction.

    Activated cards are never changed: they are counted as skipped. One UPDATE, no per-row
    saves; one audit event with the selection, the changes and the counts.
    """
    if not user.has_perm("topup.mass_edit_cards"):
        raise PermissionDenied
    changes = edit.changes()
    if edit.reseller_mode == "set" and (
        edit.reseller is None or edit.reseller.pk not in reseller_ids_visible_to(user)
    ):
        raise ValidationError({"reseller": "Choose a reseller in your part of the tree."})
    if edit.expiry_mode == "set" and edit.expires_at is None:
        raise ValidationError({"expires_at": "Enter the new expiry date."})
    cards = cards_in_scope(user=user, cards=cards)
    with transaction.atomic():
        skipped = cards.filter(status=Card.Status.ACTIVATED).count()
        changed = cards.exclude(status=Card.Status.ACTIVATED).update(**changes) if changes else 0
        audit(
            "cards.mass_edited",
            actor=user,
            selection=selection,
            changes=edit.describe(),
            changed=changed,
            skipped=skipped,
        )
    return MassEditResult(changed=changed, skipped=skipped)


def cards_delete(*, user, cards, selection: dict) -> int:
    """Delete the cards (a queryset) in the user's scope; operators only.

    The ledger keeps activated cards' transactions whole: they hold the card number and amount
    in their own columns and do not point at the card.
    """
    if not user.has_perm("topup.delete_card"):
        raise PermissionDenied
    cards = cards_in_scope(user=user, cards=cards)
    with transaction.atomic():
        deleted, _ = cards.delete()
        audit("cards.deleted", actor=user, selection=selection, deleted=deleted)
    return deleted


def cards_export_rows(*, user, cards, selection: dict, **details):
    """Rows (serial, amount, currency, expiry, PIN) for the card printer; audited up front.

    `details` go into the audit row too (the print shop an encrypted export is for).
    """
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    cards = cards_in_scope(user=user, cards=cards).order_by("number")
    with transaction.atomic():
        audit("cards.exported", actor=user, selection=selection, count=cards.count(), **details)
    for number, amount, currency, expires_at, pin in cards_with_pins(
        cards, "amount", "currency", "expires_at"
    ):
        yield number, amount, currency, expires_at.isoformat() if expires_at else "", pin


@sensitive_variables("pin")
def cards_with_pins(cards, *fields: str):
    """(number, *fields, PIN) of each card, in the queryset's order: the one decrypting loop.

    Reads in chunks through a server-side cursor, so memory stays flat for any count.
    """
    columns = ["number", *fields, "pin_encrypted", "pin_key_version"]
    for number, *values, token, version in cards.values_list(*columns).iterator(chunk_size=5000):
        pin = pin_service.decrypt(token, version, number)
        yield number, *values, pin
