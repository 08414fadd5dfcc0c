"""Selling e-PINs through the API: the idempotent request and the void.

The PIN is returned once: in the answer to the sale, and again only to a retry with the same
Idempotency-Key by the same key within EPIN_REPLAY_WINDOW_SECONDS (decrypted from the card
again: the stored answer holds no PIN). After that the key's answer is 410, for good.
"""

import hashlib
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from topup.models import CardSale
from topup.services import FourEyesRefused, OutOfStock, card_pin, epin_sale_void, epin_sell

from .epin_mail import epin_email_send
from .models import ApiKey, ApiRight, IdempotencyRecord
from .services import KEY_REUSED, Answer, money

NO_RIGHT = Answer(403, {"status": "forbidden"})
OUT_OF_STOCK = Answer(422, {"status": "out_of_stock"})
NOT_SHOWN_AGAIN = Answer(410, {"status": "pin_not_shown_again"})
NOT_FOUND = Answer(404, {"status": "not_found"})


def epin_fingerprint(
    *, product: str | None, amount: str | None, currency: str | None, email: str | None = None
) -> str:
    """What identifies a sale request (the address only as part of a digest)."""
    text = f"epin\n{product or ''}\n{amount or ''}\n{currency or ''}\n{(email or '').lower()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _sold_body(sale: CardSale) -> dict:
    """The stored answer to a sale: everything but the PIN."""
    card = sale.card
    return {
        "status": "sold",
        "sale": sale.pk,
        "card": card.number,
        "amount": money(card.amount),
        "currency": card.currency,
        "expires_at": card.expires_at.isoformat() if card.expires_at else None,
    }


@sensitive_variables("sold")
def epin_request(
    *,
    key: ApiKey,
    idempotency_key: str,
    product: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    email: str | None = None,
    language: str | None = None,
) -> Answer:
    """Sell one e-PIN to the key's reseller, at most once per idempotency key.

    With an `email`, the PIN goes to that address only (after the commit), in `language`,
    never into the answer; a retry within the window sends it again (the same PIN).
    Four eyes: a key sells no card of a series its creator generated (403 "four_eyes" when
    the only card it could have is one).

    The idempotency record is inserted first, in the sale's transaction: a second request
    with the same key waits on its unique index and then replays the first one's answer.
    """
    if not key.has_right(ApiRight.SELL_EPINS):
        return NO_RIGHT
    fingerprint = epin_fingerprint(
        product=product,
        amount=money(amount) if amount is not None else None,
        currency=currency,
        email=email,
    )
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                api_key=key, key=idempotency_key, fingerprint=fingerprint
            )
            sold = epin_sell(
                seller=key.reseller,
                channel=key.public_id,
                key_owner=key.created_by,
                product_code=product,
                amount=amount,
                currency=currency,
            )
            record.status_code = 201
            record.body = _sold_body(sold.sale) | ({"delivery": "email"} if email else {})
            record.save(update_fields=["status_code", "body"])
    except OutOfStock:
        return OUT_OF_STOCK  # nothing stored: the same key may be retried later
    except FourEyesRefused as exc:
        return Answer(403, {"status": "four_eyes", "reason": " ".join(exc.messages)})
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(api_key=key, key=idempotency_key).first()
        if record is None:
            raise  # not the record's index: the error stands
        return _replay(record, fingerprint=fingerprint, email=email, language=language)
    return _answer(record, card=sold.card, pin=sold.pin, email=email, language=language)


@sensitive_variables("pin")
def _answer(
    record: IdempotencyRecord, *, card, pin: str, email: str | None, language=None, **extra
) -> Answer:
    """The PIN in the answer, or (for a sale with an address) in the e-mail only."""
    if email:
        sent = epin_email_send(to=email, card=card, pin=pin, language=language)
        body = {**record.body, "delivery": "email" if sent else "email_failed"}
        return Answer(record.status_code, body, **extra)
    return Answer(record.status_code, {**record.body, "pin": pin}, **extra)


@sensitive_variables("pin")
def _replay(
    record: IdempotencyRecord, *, fingerprint: str, email: str | None, language: str | None
) -> Answer:
    """The first answer again, with the PIN, within the window; 409 for another request."""
    if record.fingerprint != fingerprint:
        return KEY_REUSED
    window = timedelta(seconds=settings.EPIN_REPLAY_WINDOW_SECONDS)
    if timezone.now() - record.created_at > window:
        return NOT_SHOWN_AGAIN
    sale = CardSale.objects.select_related("card").filter(pk=record.body.get("sale")).first()
    if sale is None or sale.voided_at is not None:
        return NOT_SHOWN_AGAIN
    pin = card_pin(sale.card)
    return _answer(record, card=sale.card, pin=pin, email=email, language=language, replayed=True)


def epin_void(*, key: ApiKey, sale_id: int) -> Answer:
    """Void one of this key's sales within minutes of it (its card can never be redeemed)."""
    if not key.has_right(ApiRight.SELL_EPINS):
        return NO_RIGHT
    sale = CardSale.objects.select_related("card").filter(pk=sale_id, channel=key.public_id)
    sale = sale.first()
    if sale is None:
        return NOT_FOUND
    try:
        epin_sale_void(sale=sale)
    except ValidationError as exc:
        body = {"status": "not_voided", "code": exc.code, "reason": " ".join(exc.messages)}
        return Answer(409, body)
    return Answer(200, {"status": "voided", "sale": sale.pk})
