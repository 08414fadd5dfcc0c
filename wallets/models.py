"""Reseller money: a wallet per reseller, its append-only ledger, prices and discounts.

A reseller without a `Wallet` row is not billed: its cards move as they always did. The
operator's own company (the root) never has one. Every balance change is a `WalletEntry`
written by `wallets.services` (the one home of every posting) in the transaction of its
cause; PostgreSQL refuses any UPDATE, DELETE or TRUNCATE of an entry (migration 0001).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from resellers.models import Reseller, currency_validator

# Up to 4 minor digits (ISO 4217's most: CLF, UYW); amounts are rounded to the wallet's own.
WALLET_MONEY = {"max_digits": 18, "decimal_places": 4}
PERCENT = {"max_digits": 5, "decimal_places": 2}
ZERO = Decimal("0")


class Wallet(models.Model):
    """What a reseller owes its parent, and how it pays for cards.

    `balance` is the cached sum of its entries (money the reseller holds with its parent; below
    zero it owes). `credit_limit` is how far below zero a *refusable* debit may take it (a
    release or move to a prepaid reseller, an adjustment); a consignment redemption is never
    refused and may go beyond it. `digits` is the currency's minor unit (ISO 4217), fixed when
    the wallet is opened, so SQL rounds prices the way Python does (`wallets.pricing`).
    """

    class BillingMode(models.TextChoices):
        PREPAID = "prepaid", _("Prepaid: debited when cards are released to it")
        CONSIGNMENT = "consignment", _("Consignment: debited when one of its cards is redeemed")

    reseller = models.OneToOneField(Reseller, on_delete=models.PROTECT, related_name="wallet")
    currency = models.CharField(max_length=3, validators=[currency_validator], editable=False)
    digits = models.PositiveSmallIntegerField(editable=False)
    balance = models.DecimalField(**WALLET_MONEY, default=ZERO, editable=False)
    credit_limit = models.DecimalField(**WALLET_MONEY, default=ZERO)
    billing_mode = models.CharField(
        max_length=12, choices=BillingMode.choices, default=BillingMode.PREPAID
    )
    discount = models.DecimalField(**PERCENT, default=ZERO)
    # May this reseller set its own sub-resellers' prices below what it pays itself?
    may_sell_below_cost = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reseller__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_limit__gte=0), name="wallet_credit_limit_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(discount__gte=0, discount__lte=100), name="wallet_discount_percent"
            ),
            models.CheckConstraint(
                condition=Q(billing_mode__in=["prepaid", "consignment"]),
                name="wallet_billing_mode_known",
            ),
            models.CheckConstraint(condition=Q(digits__lte=4), name="wallet_digits_iso"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="wallet_currency_iso"
            ),
        ]
        permissions = [
            ("manage_wallet", "Can set a reseller's billing mode, discounts and credit limit"),
            ("post_wallet", "Can top up or adjust a reseller's wallet"),
        ]

    def __str__(self) -> str:
        return f"{self.reseller_id} {self.balance} {self.currency}"

    @property
    def prepaid(self) -> bool:
        return self.billing_mode == self.BillingMode.PREPAID

    @property
    def available(self) -> Decimal:
        """What a refusable debit may take now: the balance plus the credit limit."""
        return self.balance + self.credit_limit


class WalletEntry(models.Model):
    """One row of a wallet's append-only ledger: every balance change, never edited or deleted.

    `reference` names the cause ("release:job:7:120000:release", "card:42"); it is unique, so
    one cause never moves money twice, whatever the code above does (a retried chunk, two
    redemptions racing). `cards` is how many cards the row pays for (0 for money in or out).
    """

    class Kind(models.TextChoices):
        TOPUP = "topup", _("Top-up")
        ADJUSTMENT = "adjustment", _("Adjustment")
        RELEASE = "release", _("Cards released")
        MOVE_IN = "move_in", _("Cards moved in")
        MOVE_OUT = "move_out", _("Cards moved out")
        VOID = "void", _("Cards voided")
        DELETE = "delete", _("Cards deleted")
        REDEMPTION = "redemption", _("Card redeemed")
        REPRICE = "reprice", _("Stock repriced")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(**WALLET_MONEY)
    balance_after = models.DecimalField(**WALLET_MONEY)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    cards = models.PositiveIntegerField(default=0)
    reference = models.CharField(max_length=120)
    note = models.CharField(max_length=255, blank=True, default="")
    # Kept for good, like the customers' ledger: a user named here cannot be deleted.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_entries",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-pk"]
        default_permissions = ("view",)  # append-only: written by the services only
        indexes = [models.Index(fields=["wallet", "created_at"], name="wallet_entry_created")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_entry_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "topup",
                        "adjustment",
                        "release",
                        "move_in",
                        "move_out",
                        "void",
                        "delete",
                        "redemption",
                        "reprice",
                    ]
                ),  # fmt: skip
                name="wallet_entry_kind_known",
            ),
            models.UniqueConstraint(fields=["reference"], name="wallet_entry_reference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.wallet_id} {self.amount:+} {self.kind}"


class SeriesDiscount(models.Model):
    """A reseller's discount on the cards of one series, instead of its wallet's own."""

    reseller = models.ForeignKey(
        Reseller, on_delete=models.CASCADE, related_name="series_discounts"
    )
    series = models.ForeignKey("topup.Series", on_delete=models.CASCADE, related_name="+")
    discount = models.DecimalField(**PERCENT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reseller", "series"], name="series_discount_once_per_reseller"
            ),
            models.CheckConstraint(
                condition=Q(discount__gte=0, discount__lte=100), name="series_discount_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reseller_id} series {self.series_id}: {self.discount} %"


class WalletRequest(models.Model):
    """A top-up or an adjustment above the four-eyes setting, waiting for a second person.

    Written by `wallets.approvals`: the person who asked may not approve it; approving posts
    the entry (through `wallets.services`) and records it here, in one transaction.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=12, choices=WalletEntry.Kind.choices)
    amount = models.DecimalField(**WALLET_MONEY)
    note = models.CharField(max_length=255)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    entry = models.OneToOneField(
        WalletEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="request"
    )

    class Meta:
        ordering = ["-pk"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_request_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(kind__in=["topup", "adjustment"]), name="wallet_request_kind_money"
            ),
            models.CheckConstraint(
                condition=Q(state="pending", decided_at__isnull=True)
                | Q(~Q(state="pending"), decided_at__isnull=False, decided_by__isnull=False),
                name="wallet_request_decided",
            ),
            models.CheckConstraint(
                condition=Q(entry__isnull=True) | Q(state="approved"),
                name="wallet_request_entry_when_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.wallet_id} {self.amount:+} {self.state}"
