"""PINs out of the system: one card's PIN, the export's rows, the one decrypting loop."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from resellers.models import AuditEvent

from ...models import Card, audit_cards, card_runs
from ...pins import pin_service
from ..four_eyes import FourEyes, four_eyes_check


@sensitive_variables("pin")
def card_reveal_pin(*, user, card: Card) -> str:
    """The plain PIN of one card, for a user with the reveal right; audited."""
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    four_eyes_check(user=user, cards=card, action=FourEyes.REVEAL)
    pin = pin_service.decrypt(card.pin_encrypted, card.pin_key_version, card.number)
    with transaction.atomic():
        audit_cards(
            AuditEvent.Action.PIN_REVEALED,
            actor=user,
            card=card.pk,
            number=card.number,
            runs=[(card.pk, card.pk)],
        )
    return pin


def cards_export_rows(*, user, cards, selection: dict, **details):
    """Rows (serial, amount, currency, expiry, PIN) for the card printer.

    Checked (right, scope, four eyes) and audited when called, before any row is produced;
    the audit event records exactly which cards were exported, for each card's history, and
    `details` (the print shop an encrypted export is for). An export of no card is not
    recorded (there is nothing in it). Returns an iterator of rows.
    """
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    cards = cards.visible_to(user).order_by("number")
    four_eyes_check(user=user, cards=cards, action=FourEyes.EXPORT)
    with transaction.atomic():
        ids = cards.order_by().values_list("pk", flat=True).iterator(chunk_size=20_000)
        runs, count = card_runs(ids)
        if count:
            audit_cards(
                AuditEvent.Action.CARDS_EXPORTED,
                actor=user,
                selection=selection,
                count=count,
                runs=runs,
                **details,
            )
    return _export_rows(cards)


def _export_rows(cards):
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
