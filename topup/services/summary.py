"""Keeping the card summary small and proving it exact.

The triggers (migration 0006) keep `CardSummary` exact on their own; nothing here is needed for
correctness. `summary_compact` folds the delta rows into one row per key so reads stay short;
`summary_rebuild` recounts every card and says where the summary differed (it never should).
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, DateField
from django.db.models.functions import TruncMonth
from django_tasks import task

from config.db_faults import with_reconnect

from ..models import Card, CardSummary
from .redemption_hours import redemption_hours_compact

_TABLE = CardSummary._meta.db_table
SUMMARY_KEY = CardSummary.KEY


def summary_compact() -> int:
    """Fold the summary's delta rows into one row per key; returns how many rows went.

    Safe at any time, concurrently with anything: one statement deletes the rows it can see
    and inserts their sums, so rows committed meanwhile stay as they are and the totals never
    change.
    """
    columns = ", ".join(CardSummary.KEY)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {_TABLE} RETURNING {columns}, cards),"
            f" folded AS (INSERT INTO {_TABLE} ({columns}, cards)"
            f"  SELECT {columns}, sum(cards) FROM gone GROUP BY {columns}"
            "   HAVING sum(cards) <> 0 RETURNING 1)"
            " SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM folded)"
        )
        return cursor.fetchone()[0]


def summary_row_count() -> int:
    """How many delta rows the summary holds (what a read sums; compaction shrinks it)."""
    return CardSummary.objects.count()


@dataclass(frozen=True)
class SummaryDifference:
    key: tuple
    summary: int
    cards: int


def _key(row: dict) -> tuple:
    return tuple(row[name] for name in CardSummary.KEY)


def counted_groups() -> dict[tuple, int]:
    """Every key of the summary counted from the cards themselves (a full scan)."""
    months = {
        name: TruncMonth(field, output_field=DateField())
        for name, field in (("created_month", "created_at"), ("activated_month", "activated_at"))
    }
    rows = (
        Card.objects.order_by().annotate(**months).values(*CardSummary.KEY).annotate(n=Count("pk"))
    )
    return {_key(row): row["n"] for row in rows}


def summary_groups() -> dict[tuple, int]:
    return {_key(row): row["cards"] for row in CardSummary.objects.groups()}


def summary_differences(counted: dict[tuple, int] | None = None) -> list[SummaryDifference]:
    """Keys where the summary and a full count of the cards disagree (there should be none)."""
    counted = counted_groups() if counted is None else counted
    summed = summary_groups()
    return [
        SummaryDifference(key=key, summary=summed.get(key, 0), cards=counted.get(key, 0))
        for key in sorted(set(counted) | set(summed), key=repr)
        if summed.get(key, 0) != counted.get(key, 0)
    ]


def summary_rebuild() -> list[SummaryDifference]:
    """Recount the summary from the cards; returns the differences found before replacing it.

    Card writes wait (a SHARE lock on the card table) while the cards are counted
    and the summary replaced, so nothing changes between the count and the new rows.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Card._meta.db_table} IN SHARE MODE")
        counted = counted_groups()
        differences = summary_differences(counted)
        CardSummary.objects.all().delete()
        CardSummary.objects.bulk_create(
            [
                CardSummary(**dict(zip(CardSummary.KEY, key, strict=True)), cards=n)
                for key, n in counted.items()
            ],
            batch_size=1000,
        )
    return differences


@task()
def compact_summary() -> int:
    """`summary_compact` by the worker (the card list enqueues it when a read summed many
    rows), and the redemptions per hour's fold with it: redemptions add rows to both."""
    # Each one transaction that folds what it sees: run again whole after an outage.
    return with_reconnect(summary_compact, what="Summary compaction") + with_reconnect(
        redemption_hours_compact, what="Redemptions per hour compaction"
    )
