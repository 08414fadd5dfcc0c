"""E-PINs sold on demand: the products an operator defines and the record of each sale.

An e-PIN is an ordinary released card of a stock series named by a product; selling one
records a `CardSale` (one per card: the unique card makes a second sale impossible). The PIN
is never stored in clear: the sale is answered by decrypting the card's PIN.
"""

from django.db import models
from django.db.models import Q

from resellers.models import Reseller

from .cards import Card, Series


class EpinProduct(models.Model):
    """What a shop sells: an amount in a currency, from the operator's stock series."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    series = models.ManyToManyField(Series, related_name="epin_products")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="epin_product_amount_positive")
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
