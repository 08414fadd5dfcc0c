"""The machinery: chunks, the locking statements, retries."""

import logging
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, models
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils.translation import gettext_lazy as _

from ...models import Card, card_runs
from .actions import BulkAction, BulkBusy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    ids: list[int]  # the cards walked (selected), in id order; empty: the selection is done
    changed: int


class ChunkStatement:
    """Applies an action to the selection chunk by chunk: `next(cards, after=id)` -> Chunk.

    Two statements per chunk, inside the caller's transaction. The walk is a keyset read of
    the next TOPUP_BULK_CHUNK_SIZE ids of the selection after `after` (`ORDER BY id LIMIT n`,
    no OFFSET) that locks those rows as it reads them, in id order (`FOR UPDATE OF` the card
    only), and says for each whether the action may change it (the may-change condition and
    the scope, evaluated on the newest row version after any lock wait). The write then
    updates or deletes exactly the rows that may change, by id, re-checking the condition.

    The ids an UPDATE changed come back (`RETURNING`) and collect in `runs`, so the audit
    event can say exactly which cards it changed (each card's history finds it).
    """

    LOCK_TIMEOUT = "5s"  # a chunk waits this long for a row lock, then the transaction retries

    def __init__(self, action: BulkAction, scope: list[int]):
        self.action = action
        self.scope = scope
        self.changes = action.changes()
        self.guard = action.may_change() & Q(reseller_id__in=scope)
        self.runs: list[tuple[int, int]] = []
        self.sql, self.set_params, self.guard_params = self._write_sql()

    def start_transaction(self) -> None:
        self.runs = []  # a retried transaction starts over
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{self.LOCK_TIMEOUT}'")

    def next(self, cards, *, after: int) -> Chunk:
        rows = list(
            cards.filter(pk__gt=after)
            .order_by("pk")
            .annotate(may_change=ExpressionWrapper(self.guard, output_field=BooleanField()))
            .select_for_update(of=("self",))
            .values_list("pk", "may_change")[: settings.TOPUP_BULK_CHUNK_SIZE]
        )
        targets = [pk for pk, may_change in rows if may_change]
        return Chunk(ids=[pk for pk, _ in rows], changed=self._write(targets) if targets else 0)

    def _write(self, ids: list[int]) -> int:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [*self.set_params, ids, *self.guard_params])
            if self.changes is None:
                return cursor.rowcount
            changed = [row[0] for row in cursor.fetchall()]
        self._record(changed)
        return len(changed)

    def _record(self, changed) -> None:
        self.runs.extend(card_runs(changed)[0])

    def _write_sql(self) -> tuple[str, list, list]:
        query = Card.objects.filter(self.guard).query
        compiler = query.get_compiler(connection=connection)
        guard, guard_params = query.where.as_sql(compiler, connection)
        if sum(1 for count in query.alias_refcount.values() if count) != 1:
            raise ImproperlyConfigured(
                f"{type(self.action).__name__}.may_change() must use the card's own columns."
            )
        quote = connection.ops.quote_name
        table = quote(Card._meta.db_table)
        where = f"WHERE {table}.{quote('id')} = ANY(%s) AND {guard}"
        if self.changes is None:
            return f"DELETE FROM {table} {where}", [], list(guard_params)
        assignments, values = [], []
        for name, value in self.changes.items():
            field = Card._meta.get_field(name)
            if hasattr(value, "resolve_expression"):  # e.g. unblock's CASE on the row itself
                expression = value.resolve_expression(query, allow_joins=False, for_save=True)
                value_sql, value_params = compiler.compile(expression)
                assignments.append(f"{quote(field.column)} = {value_sql}")
                values.extend(value_params)
                continue
            if isinstance(value, models.Model):
                value = value.pk
            assignments.append(f"{quote(field.column)} = %s")
            values.append(field.get_db_prep_save(value, connection))
        sql = f"UPDATE {table} SET {', '.join(assignments)} {where} RETURNING {table}.id"
        return sql, values, list(guard_params)


# SQLSTATEs worth another try: deadlock, serialisation failure, lock wait timed out.
RETRYABLE = {"40P01": "deadlock", "40001": "serialization failure", "55P03": "lock timeout"}


def retryable(exc: BaseException) -> str | None:
    """The name of a transient database failure, or None when retrying cannot help."""
    return RETRYABLE.get(getattr(exc.__cause__, "pgcode", None) or "")


def with_retries(work):
    """Run `work()` (one whole transaction) again after a transient failure, a few times.

    After the last try: BulkBusy with a message for the user; the detail goes to the log.
    """
    attempts = settings.TOPUP_BULK_RETRIES
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DatabaseError as exc:
            reason = retryable(exc)
            if reason is None:
                raise
            logger.warning("Bulk action: %s (try %d of %d): %s", reason, attempt, attempts, exc)
            if attempt == attempts:
                raise BulkBusy(
                    _(
                        "Other changes to these cards kept colliding with this action; nothing "
                        "was changed. Try again in a moment."
                    ),
                    code="busy",
                ) from exc
            time.sleep(random.uniform(0.05, 0.2) * attempt)
