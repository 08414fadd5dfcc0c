"""The card summary: delta rows of card counts per key, kept by database triggers."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import MONEY
from resellers.models import Reseller
from resellers.scoping import ResellerScopedQuerySet

from .cards import STATUS_CONDITIONS, Series


class CardSummaryQuerySet(ResellerScopedQuerySet):
    """Delta rows: a `visible_to` read is summed, never counted."""

    def with_display(self, status: str) -> "CardSummaryQuerySet":
        """Rows of cards whose displayed status is `status`: the card list's own condition."""
        return self.filter(STATUS_CONDITIONS[status])

    def groups(self) -> "CardSummaryQuerySet":
        """One row per key with its net count of cards (delta rows summed; empty keys left out)."""
        return (
            self.order_by()
            .values(*CardSummary.KEY)
            .annotate(cards=models.Sum("cards"))
            .exclude(cards=0)
        )


class CardCounts(models.Model):
    """Numbers of cards by the summary's key: what the card summary and purged counts share."""

    KEY = (
        "series_id",
        "reseller_id",
        "currency",
        "status",
        "amount",
        "expires_at",
        "created_month",
        "activated_month",
    )

    # No foreign-key constraints: the triggers write here while cards, series and resellers
    # change in any order; the summary mirrors the cards' raw column values.
    series = models.ForeignKey(
        Series, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    reseller = models.ForeignKey(
        Reseller,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10)
    amount = models.DecimalField(**MONEY)
    expires_at = models.DateTimeField(null=True)
    created_month = models.DateField()  # first day of the card's created_at month, UTC
    activated_month = models.DateField(null=True)
    cards = models.BigIntegerField()  # signed: a change adds -n to the old key, +n to the new

    class Meta:
        abstract = True


class CardSummary(CardCounts):
    """Card counts by series, reseller, currency, status, amount, expiry and month.

    Kept exact by database triggers on `topup_card` (migration 0006), in the transaction of
    whatever changed the cards: every INSERT, UPDATE, DELETE or COPY, from any code path, adds
    signed delta rows here. Rows are only ever inserted by the triggers, so concurrent
    redemptions never wait on each other; readers sum the rows of a key (`groups()`), and
    `summary_compact` folds them into one row per key. "Expired" is not stored: it is a new
    card whose `expires_at` has passed, decided when the summary is read.
    """

    objects = CardSummaryQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.series_id} {self.status} {self.cards:+}"


class PurgedCards(CardCounts):
    """Cards the retention command deleted, counted by the card summary's key.

    Written in the statement that deletes them (`cards_purge`), so the liability report, which
    reads the summary and this table together, keeps every figure after the cards are gone.
    """

    purged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = _("purged cards")

    def __str__(self) -> str:
        return f"{self.cards} {self.status} cards of series {self.series_id}"


class RedemptionHour(models.Model):
    """Cards redeemed per hour (UTC), reseller and currency: signed delta rows.

    Kept exact by triggers on `topup_card` (migration 0019) in the transaction of whatever
    changed the cards, like the card summary: a redemption adds one row, a statement that
    changes many cards one per key. Readers sum the rows of a period; `redemption_hours_compact`
    folds them. The redemptions per day and today's redemptions read this, not the cards.
    """

    hour = models.DateTimeField()
    reseller_id = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    cards = models.BigIntegerField()
    value = models.DecimalField(max_digits=20, decimal_places=2)

    objects = ResellerScopedQuerySet.as_manager()

    class Meta:
        default_permissions = ()  # written by the triggers only
        indexes = [models.Index(fields=["hour"], name="redemption_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.reseller_id} {self.cards:+}"
