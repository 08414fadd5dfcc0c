"""E-PINs sold on demand: the products an operator defines and the record of each sale.

An e-PIN is an ordinary released card of a stock series named by a product; selling one
records a `CardSale` (one per card: the unique card makes a second sale impossible). The PIN
is never stored in clear: the sale is answered by decrypting the card's PIN.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from resellers.models import Reseller
from resellers.scoping import ResellerScopedQuerySet

from .cards import Card, Series

VALIDITY_DAYS_MAX = 3650


class EpinProductQuerySet(ResellerScopedQuerySet):
    def for_seller(self, seller: Reseller) -> "EpinProductQuerySet":
        """The active products a key of `seller` may sell: its own and its ancestors'."""
        return self.filter(active=True, reseller_id__in=seller.ancestors_and_self())


class EpinProduct(models.Model):
    """What a shop sells: an amount in a currency, from the owner's stock series (and, when
    `make_on_demand`, a card made for the sale when the stock is empty).

    A product is defined by a company (its owner) and sold by keys of the owner's subtree.
    `validity_days` is how long a card made on demand stays valid; stock cards keep their
    series' expiry. Made cards are generated in `created_by`'s name, with that user's rights.
    """

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    reseller = models.ForeignKey(Reseller, on_delete=models.PROTECT, related_name="epin_products")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    validity_days = models.PositiveIntegerField(null=True, blank=True)
    series = models.ManyToManyField(Series, related_name="epin_products", blank=True)
    make_on_demand = models.BooleanField(default=False)
    series_code = models.CharField(max_length=20, blank=True)  # of the series made on demand
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = EpinProductQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("e-PIN product")
        default_permissions = ("view", "add", "change")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="epin_product_amount_positive"),
            models.CheckConstraint(
                condition=Q(validity_days__isnull=True)
                | Q(validity_days__gte=1, validity_days__lte=VALIDITY_DAYS_MAX),
                name="epin_product_validity_bounded",
            ),
            models.CheckConstraint(
                condition=Q(make_on_demand=False) | ~Q(series_code=""),
                name="epin_product_made_with_a_series_code",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.amount} {self.currency})"


class CardSale(models.Model):
    """A card sold as an e-PIN through a channel (an API key), voidable for a few minutes."""

    card = models.OneToOneField(Card, on_delete=models.PROTECT, related_name="sale")
    product = models.ForeignKey(EpinProduct, null=True, on_delete=models.SET_NULL, related_name="+")
    seller = models.ForeignKey(Reseller, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=40)  # the API key's public id
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ("view",)  # written by the e-PIN service only
        constraints = [
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True) | Q(voided_at__gte=models.F("created_at")),
                name="cardsale_voided_after_sold",
            )
        ]

    def __str__(self) -> str:
        return f"{self.card_id} via {self.channel}"
