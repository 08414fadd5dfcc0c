"""Keeping the redemptions per hour small and proving them exact (triggers: migration 0019)."""

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour

from ..models import Card, RedemptionHour

_TABLE = RedemptionHour._meta.db_table
_KEY = ("hour", "reseller_id", "currency")


def redemption_hours_compact() -> int:
    """Fold the delta rows into one row per key; returns how many rows went.

    One statement, safe concurrently with redemptions: rows committed meanwhile stay as they
    are, and no sum changes.
    """
    columns = ", ".join(_KEY)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {_TABLE} RETURNING {columns}, cards, value),"
            f" folded AS (INSERT INTO {_TABLE} ({columns}, cards, value)"
            f"  SELECT {columns}, sum(cards), sum(value) FROM gone GROUP BY {columns}"
            "   HAVING sum(cards) <> 0 OR sum(value) <> 0 RETURNING 1)"
            " SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM folded)"
        )
        return cursor.fetchone()[0]


def redemption_hour_differences() -> list[tuple[tuple, tuple, tuple]]:
    """(key, (cards, value) summed, (cards, value) counted) wherever the two disagree."""
    counted = {
        (row["hour"], row["reseller_id"], row["currency"]): (row["n"], row["v"])
        for row in Card.objects.filter(activated_at__isnull=False)
        .annotate(hour=TruncHour("activated_at"))
        .order_by()
        .values("hour", "reseller_id", "currency")
        .annotate(n=Count("pk"), v=Sum("amount"))
    }
    summed = {
        (row["hour"], row["reseller_id"], row["currency"]): (row["n"], row["v"])
        for row in RedemptionHour.objects.order_by()
        .values(*_KEY)
        .annotate(n=Sum("cards"), v=Sum("value"))
        .exclude(n=0, v=0)
    }
    return [
        (key, summed.get(key, (0, 0)), counted.get(key, (0, 0)))
        for key in sorted(set(counted) | set(summed))
        if summed.get(key, (0, 0)) != counted.get(key, (0, 0))
    ]
