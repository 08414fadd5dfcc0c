"""A wallet's statement for a period: opening balance, the ledger rows, closing balance.

Reads only. The period is whole days of the reader's time zone, both ends included; the
opening balance is the balance after the last row written before the period (the ledger's
running balance, one indexed row; rows are numbered in the order they took the wallet's lock,
so the row order is the balance order), the closing balance the opening plus the period's
rows, which equals the balance after the period's last row (the ledger's own invariant).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from .models import Wallet, WalletEntry

ZERO = Decimal("0.00")
PDF_ROWS = 5000  # a longer period is refused as PDF (the CSV has every row)


def day_start(day: date) -> datetime:
    """Midnight starting `day` in the active (the reader's) time zone."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


@dataclass
class Statement:
    wallet: Wallet
    start: date
    end: date
    opening: Decimal
    credits: Decimal
    debits: Decimal
    count: int

    @property
    def closing(self) -> Decimal:
        return self.opening + self.credits + self.debits

    @property
    def currency(self) -> str:
        return self.wallet.currency

    def rows(self) -> QuerySet:
        """The period's ledger rows, oldest first (a queryset: page it or iterate it)."""
        return _between(self.wallet, self.start, self.end).select_related("created_by")

    def iter_rows(self) -> Iterator[WalletEntry]:
        return self.rows().iterator(chunk_size=2000)


def _between(wallet: Wallet, start: date, end: date) -> QuerySet:
    return WalletEntry.objects.filter(
        wallet=wallet,
        created_at__gte=day_start(start),
        created_at__lt=day_start(end + timedelta(days=1)),
    ).order_by("pk")


def wallet_statement(wallet: Wallet, *, start: date, end: date) -> Statement:
    """The statement of `wallet` from `start` to `end` (days, both included)."""
    before = (
        WalletEntry.objects.filter(wallet=wallet, created_at__lt=day_start(start))
        .order_by("-pk")
        .values_list("balance_after", flat=True)
        .first()
    )
    totals = (
        _between(wallet, start, end)
        .order_by()
        .aggregate(
            credits=Sum("amount", filter=Q(amount__gt=0)),
            debits=Sum("amount", filter=Q(amount__lt=0)),
            count=Count("pk"),
        )
    )
    return Statement(
        wallet=wallet,
        start=start,
        end=end,
        opening=before if before is not None else ZERO,
        credits=totals["credits"] or ZERO,
        debits=totals["debits"] or ZERO,
        count=totals["count"],
    )
