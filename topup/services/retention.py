"""Retention: deleting cards redeemed or expired long ago, keeping every figure exact."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from locales.formats import number
from resellers.models import AuditEvent, audit

from ..models import Card, CardSummary, PurgedCards

MAX_MONTHS = 1200


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    purged: int
    batches: int


def purge_cutoff(*, months: int, now: datetime | None = None) -> datetime:
    if not 1 <= months <= MAX_MONTHS:
        raise ValidationError(
            {"months": gettext("Keep from 1 to %(most)s months of cards.") % {"most": MAX_MONTHS}}
        )
    return (now or timezone.now()) - timedelta(days=round(months * 30.44))


def purgeable(cutoff: datetime) -> Q:
    """Redeemed before `cutoff`, or never redeemed and expired before it."""
    return Q(status=Card.Status.ACTIVATED, activated_at__lt=cutoff) | (
        ~Q(status=Card.Status.ACTIVATED) & Q(expires_at__lt=cutoff)
    )


def cards_purge(
    *, months: int, batch_size: int = 5000, now: datetime | None = None, progress=None
) -> PurgeResult:
    """Delete the cards redeemed or expired more than `months` months ago, in batches.

    Each batch is one transaction that deletes its cards and adds their counts, by the card
    summary's key, to `PurgedCards` in the same statement, with an audit row: the liability
    report (summary plus purged counts) and the summary check stay exact at every moment, and
    an interrupted run leaves whole batches only. The ledger is not touched: its rows carry the
    card number and amount themselves. The condition is checked again on each row as it is
    deleted, so a card whose expiry a mass edit extends meanwhile stays. Safe to run on a
    schedule and to run again: it deletes nothing twice.
    """
    cutoff = purge_cutoff(months=months, now=now)
    if not 1 <= batch_size <= 100_000:
        raise ValidationError(
            {
                "batch_size": gettext("Batches hold from 1 to %(most)s cards.")
                % {"most": number(100_000)}
            }
        )
    purged = batches = 0
    while True:
        with transaction.atomic():
            gone = _purge_batch(cutoff, batch_size)
            if gone:
                audit(
                    AuditEvent.Action.CARDS_PURGED,
                    cutoff=cutoff.isoformat(),
                    purged=gone,
                    months=months,
                )
        if not gone:
            break
        purged, batches = purged + gone, batches + 1
        if progress:
            progress(purged)
    return PurgeResult(cutoff=cutoff, purged=purged, batches=batches)


def _purge_batch(cutoff: datetime, batch_size: int) -> int:
    condition = purgeable(cutoff)
    where, params = _where_sql(Card.objects.filter(condition))
    key = ", ".join(CardSummary.KEY[:6])
    months = (
        "date_trunc('month', created_at AT TIME ZONE 'UTC')::date,"
        " date_trunc('month', activated_at AT TIME ZONE 'UTC')::date"
    )
    columns = ", ".join(CardSummary.KEY)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM topup_card WHERE id IN ("
            f"  SELECT id FROM topup_card WHERE {where} ORDER BY id LIMIT %s"
            f"  FOR UPDATE SKIP LOCKED) AND {where}"
            f"  RETURNING {key}, {months}),"
            f" counted AS (INSERT INTO {PurgedCards._meta.db_table} ({columns}, cards, purged_at)"
            f"  SELECT *, count(*), now() FROM gone GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
            "   RETURNING cards)"
            " SELECT coalesce(sum(cards), 0) FROM counted",
            [*params, batch_size, *params],
        )
        return int(cursor.fetchone()[0])


def _where_sql(queryset) -> tuple[str, list]:
    """The WHERE clause of a queryset on the card table, as SQL and parameters."""
    query = queryset.query
    compiler = query.get_compiler(connection=connection)
    sql, params = query.where.as_sql(compiler, connection)
    return sql.replace(f'"{Card._meta.db_table}".', ""), list(params)
