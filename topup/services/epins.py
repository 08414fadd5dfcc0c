"""Selling e-PINs on demand: one released, unsold card of a stock series per sale, or, when
the stock is empty and the product says so, a card made for the sale by the generation
service (a series of one, generated in the product's creator's name).

Concurrent sales never take the same card: candidates are locked `FOR UPDATE SKIP LOCKED`
(a card another sale holds is skipped, not waited for), and the card's one `CardSale` row
(unique) is checked after the lock, in a fresh snapshot, and written in the same transaction.

Four eyes (docs/four-eyes.md): a key never sells a card of a series its creator generated.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from resellers.models import AuditEvent, Reseller, audit

from ..models import Card, CardSale, EpinProduct
from ..pins import pin_service
from .four_eyes import FourEyes, four_eyes_check, four_eyes_exclude
from .generation import SeriesRequest, series_generate

logger = logging.getLogger(__name__)

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


def _products(
    *, seller: Reseller, product_code: str | None, amount: Decimal | None, currency: str | None
):
    products = EpinProduct.objects.for_seller(seller).select_related("created_by")
    if product_code:
        return products.filter(code=product_code)
    return products.filter(amount=amount, currency=currency)


@sensitive_variables("pin")
def card_pin(card: Card) -> str:
    """The card's PIN, decrypted for the one answer that shows it."""
    return pin_service.decrypt(bytes(card.pin_encrypted), card.pin_key_version, card.number)


def _from_stock(products, *, seller: Reseller, key_owner) -> Card | None:
    """A released, redeemable, unsold card of the products' stock series in the seller's
    subtree, locked for this sale; None when there is none (left)."""
    candidates = (
        Card.objects.redeemable()
        .filter(
            series__epin_products__in=products,
            reseller_id__in=Reseller.objects.subtree_of(seller).values("pk"),
            amount__in={p.amount for p in products},
            currency__in={p.currency for p in products},
        )
        .filter(~Exists(CardSale.objects.filter(card_id=OuterRef("pk"))))
        .order_by("pk")
    )
    candidates = four_eyes_exclude(user=key_owner, cards=candidates)
    skipped = []
    for _try in range(TRIES):
        card = (
            candidates.exclude(pk__in=skipped)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if card is None:
            return None
        # Locked now: a sale that committed since this statement's snapshot is seen here.
        if not CardSale.objects.filter(card_id=card.pk).exists():
            return card
        skipped.append(card.pk)
    return None


def _made(products, *, seller: Reseller, key_owner) -> Card:
    """A card made for this sale by the generation service, for the first product that makes
    cards on demand: a released series of one (not added to the product's stock), in its
    creator's name and with that user's rights (generate, the seller in their subtree, the
    guessing guard). OutOfStock when no product makes cards or the creator may not;
    FourEyesRefused when the key is the creator's own."""
    product = next((p for p in products if p.make_on_demand), None)
    if product is None or product.created_by is None:
        raise OutOfStock
    validity = product.validity_days
    request = SeriesRequest(
        reseller=seller,
        amount=product.amount,
        currency=product.currency,
        quantity=1,
        code=product.series_code,
        in_stock=False,
        expires_at=timezone.now() + timedelta(days=validity) if validity else None,
        label=_("e-PIN %(product)s") % {"product": product.code},
    )
    try:
        with transaction.atomic():
            series = series_generate(user=product.created_by, request=request, background=False)
    except (PermissionDenied, ValidationError) as exc:
        logger.warning("E-PIN product %s cannot make a card: %r", product.code, exc)
        raise OutOfStock from None
    card = series.cards.get()
    four_eyes_check(user=key_owner, cards=card, action=FourEyes.SELL)
    return card


def epin_sell(
    *,
    seller: Reseller,
    channel: str,
    key_owner=None,
    product_code: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
) -> Sold:
    """Sell one e-PIN: a released, redeemable, unsold card of a product's stock series owned
    in the seller's subtree, by product code or by amount and currency (the products of the
    seller and its ancestors); a card made for the sale when the stock is empty and the product
    makes cards on demand. Records the sale and its audit row in one transaction (the
    caller's, if any); OutOfStock when no card can be had. The card stays redeemable (new)
    for the customer, exactly once, like any card. `key_owner` (who created the selling key)
    never gets a card of a series they generated while four eyes is on."""
    products = list(
        _products(seller=seller, product_code=product_code, amount=amount, currency=currency)
    )
    if not products:
        raise OutOfStock
    with transaction.atomic():
        card = _from_stock(products, seller=seller, key_owner=key_owner)
        made = card is None
        if made:
            card = _made(products, seller=seller, key_owner=key_owner)
        product = next(p for p in products if p.amount == card.amount)
        sale = CardSale.objects.create(card=card, product=product, seller=seller, channel=channel)
        audit(
            AuditEvent.Action.EPIN_SOLD,
            sale=sale.pk,
            card=card.number,
            amount=str(card.amount),
            currency=card.currency,
            seller=seller.pk,
            channel=channel,
            made_on_demand=made,
        )
        return Sold(sale=sale, card=card, pin=card_pin(card))


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
