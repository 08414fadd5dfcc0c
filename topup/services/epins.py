"""Selling e-PINs on demand: one released, unsold card of a stock series per sale.

Concurrent sales never take the same card: candidates are locked `FOR UPDATE SKIP LOCKED`
(a card another sale holds is skipped, not waited for), and the card's one `CardSale` row
(unique) is checked after the lock, in a fresh snapshot, and written in the same transaction.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from resellers.models import AuditEvent, Reseller, audit

from ..models import Card, CardSale, EpinProduct
from ..pins import pin_service

# How many locked candidates a sale tries before it reports no stock (each one skipped was
# sold by a sale that committed between this one's read and its lock).
TRIES = 5


class OutOfStock(Exception):
    """No released, unsold card of the product (or amount) in the seller's subtree."""


@dataclass(frozen=True)
class Sold:
    sale: CardSale
    card: Card
    pin: str  # returned to the caller once; never stored in clear


def _products(*, product_code: str | None, amount: Decimal | None, currency: str | None):
    products = EpinProduct.objects.filter(active=True)
    if product_code:
        return products.filter(code=product_code)
    return products.filter(amount=amount, currency=currency)


@sensitive_variables("pin")
def card_pin(card: Card) -> str:
    """The card's PIN, decrypted for the one answer that shows it."""
    return pin_service.decrypt(bytes(card.pin_encrypted), card.pin_key_version, card.number)


def epin_sell(
    *,
    seller: Reseller,
    channel: str,
    product_code: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
) -> Sold:
    """Sell one e-PIN: a released, redeemable, unsold card of a product's stock series owned
    in the seller's subtree, by product code or by amount and currency. Records the sale and
    its audit row in one transaction (the caller's, if any); OutOfStock when none is left.
    The card stays redeemable (new) for the customer, exactly once, like any card."""
    products = list(_products(product_code=product_code, amount=amount, currency=currency))
    if not products:
        raise OutOfStock
    subtree = Reseller.objects.subtree_of(seller).values("pk")
    candidates = (
        Card.objects.redeemable()
        .filter(
            series__epin_products__in=products,
            reseller_id__in=subtree,
            amount__in={p.amount for p in products},
            currency__in={p.currency for p in products},
        )
        .filter(~Exists(CardSale.objects.filter(card_id=OuterRef("pk"))))
        .order_by("pk")
    )
    with transaction.atomic():
        skipped = []
        for _ in range(TRIES):
            card = (
                candidates.exclude(pk__in=skipped)
                .select_for_update(skip_locked=True, of=("self",))
                .first()
            )
            if card is None:
                break
            # Locked now: a sale that committed since this statement's snapshot is seen here.
            if CardSale.objects.filter(card_id=card.pk).exists():
                skipped.append(card.pk)
                continue
            product = next(p for p in products if p.amount == card.amount)
            sale = CardSale.objects.create(
                card=card, product=product, seller=seller, channel=channel
            )
            audit(
                AuditEvent.Action.EPIN_SOLD,
                sale=sale.pk,
                card=card.number,
                amount=str(card.amount),
                currency=card.currency,
                seller=seller.pk,
                channel=channel,
            )
            return Sold(sale=sale, card=card, pin=card_pin(card))
    raise OutOfStock


def epin_sale_void(*, sale: CardSale, now: datetime | None = None) -> None:
    """Void a sale within EPIN_VOID_WINDOW_SECONDS of it: its card is voided for good (never
    redeemable); ValidationError when too late, already voided or already redeemed. Audited."""
    now = now or timezone.now()
    if sale.voided_at is not None:
        raise ValidationError(_("This sale is voided already."), code="voided")
    if now - sale.created_at > timedelta(seconds=settings.EPIN_VOID_WINDOW_SECONDS):
        raise ValidationError(_("Too late to void this sale."), code="too_late")
    with transaction.atomic():
        # The card's row decides: a customer who redeemed it first keeps it.
        if not Card.objects.filter(pk=sale.card_id, status=Card.Status.NEW).update(
            status=Card.Status.VOID
        ):
            raise ValidationError(
                _("The card of this sale was redeemed or changed."), code="changed"
            )
        CardSale.objects.filter(pk=sale.pk).update(voided_at=now)
        audit(
            AuditEvent.Action.EPIN_SALE_VOIDED,
            sale=sale.pk,
            card=sale.card.number,
            channel=sale.channel,
        )
    sale.voided_at = now
