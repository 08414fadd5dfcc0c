from decimal import Decimal

from django.conf import settings
from django.db import models, router
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from resellers.models import Reseller, currency_validator
from resellers.scoping import ResellerScopedQuerySet, is_staff_member

from .numbers import next_account_numbers

MONEY = {"max_digits": 14, "decimal_places": 2}
CENT = Decimal("0.01")


def as_money(value) -> Decimal:
    """A money value read by hand-written SQL (SQLite returns numbers, not Decimals)."""
    return Decimal(str(value)).quantize(CENT)


class AccountQuerySet(ResellerScopedQuerySet):
    def visible_to(self, user) -> "AccountQuerySet":
        """Staff see the accounts of their reseller subtree; a customer sees only its own."""
        if user.is_authenticated and not is_staff_member(user):
            return self.filter(user=user)
        return super().visible_to(user)

    def bulk_create(self, objs, *args, **kwargs):
        """Numbers for the new accounts that have none, drawn in one round trip."""
        objs = list(objs)
        unnumbered = [account for account in objs if not account.number]
        for account, number in zip(
            unnumbered, next_account_numbers(len(unnumbered), using=self.db), strict=True
        ):
            account.number = number
        return super().bulk_create(objs, *args, **kwargs)


class Account(models.Model):
    """A customer account. `balance` is the cached sum of its ledger rows.

    `number` is what the customer types on an IVR (see `billing.numbers`): assigned from a
    database sequence when the account is first saved, never edited.
    """

    number = models.CharField(max_length=12, editable=False)
    name = models.CharField(max_length=200)
    reseller = models.ForeignKey(Reseller, on_delete=models.PROTECT, related_name="accounts")
    currency = models.CharField(max_length=3, validators=[currency_validator])
    balance = models.DecimalField(**MONEY, default=Decimal("0.00"), editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="account",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # One index serves uniqueness, exact lookups and prefix search.
            models.UniqueConstraint(
                fields=["number"], name="account_number_unique", opclasses=["varchar_pattern_ops"]
            ),
            models.CheckConstraint(
                condition=Q(number__regex=r"^[1-9][0-9]{8,11}$"), name="account_number_digits"
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="account_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="account_currency_iso"
            ),
        ]
        permissions = [("adjust_balance", _("Can post a manual balance adjustment"))]

    def __str__(self) -> str:
        return f"{self.number} {self.name} ({self.currency})"

    def save(self, *args, **kwargs):
        if not self.number:
            using = kwargs.get("using") or router.db_for_write(Account, instance=self)
            self.number = next_account_numbers(1, using=using)[0]
        super().save(*args, **kwargs)


class Transaction(models.Model):
    """One row of the append-only ledger: every balance change, never edited or deleted.

    `reference` names what caused the change ("topup.card:42"); it is unique where set, so one
    cause can never move money twice, whatever the code above does.
    """

    class Kind(models.TextChoices):
        OPENING = "opening", _("Opening balance")
        TOPUP_CARD = "topup_card", _("Top-up card")
        MANUAL_PAYMENT = "manual_payment", _("Manual payment")
        MANUAL_CHARGE = "manual_charge", _("Manual charge")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="transactions")
    amount = models.DecimalField(**MONEY)
    balance_after = models.DecimalField(**MONEY)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=255)
    reference = models.CharField(max_length=100, blank=True, default="")
    # Who made the change: kept for good, so a user named here cannot be deleted (deactivate).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ("view",)  # append-only: written by the services only
        indexes = [models.Index(fields=["account", "-created_at"], name="txn_account_created")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="transaction_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(kind__in=["opening", "topup_card", "manual_payment", "manual_charge"]),
                name="transaction_kind_known",
            ),
            models.UniqueConstraint(
                fields=["reference"], condition=~Q(reference=""), name="transaction_reference_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount:+} {self.kind}"
