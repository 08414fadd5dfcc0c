"""Writing a series' cards in bulk, by COPY.

Everything runs inside the caller's transaction. Each batch is written under a savepoint; the
unique index on the PIN digest is the final guard: on a collision the batch is rolled back to
its savepoint, the colliding PINs are found with one query and drawn again, and the batch is
written again. No card is ever skipped, so a series always has exactly its quantity.
"""

import csv
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import Card, Series
from .pins import pin_service

BATCH_SIZE = 20_000
MAX_REDRAWS = 20
COPY_COLUMNS = [
    "series_id",
    "number",
    "reseller_id",
    "amount",
    "currency",
    "pin_digest",
    "pin_encrypted",
    "pin_key_version",
    "status",
    "released_at",
    "valid_from",
    "expires_at",
    "created_at",
]


class GenerationError(RuntimeError):
    pass


def _draw(series: Series, numbers: range, taken: set[str]) -> list[tuple[str, str, str]]:
    """(card number, digest, PIN) triples with fresh PINs, none of whose digest is in `taken`."""
    rows = []
    for n in numbers:
        while True:
            digest = pin_service.digest(pin := pin_service.generate(series.pin_length))
            if digest not in taken:
                break
        taken.add(digest)
        rows.append((f"{series.code}-{n:08d}", digest, pin))
    return rows


def _existing_digests(digests: list[str]) -> set[str]:
    return set(Card.objects.filter(pin_digest__in=digests).values_list("pin_digest", flat=True))


class _Batch:
    """One batch of cards: numbers, digests and encrypted PINs, ready to write."""

    def __init__(self, series: Series, numbers: range):
        self.series = series
        self.numbers = numbers
        self.rows = _draw(series, numbers, set())

    def redraw(self, colliding: set[str]) -> int:
        """Draw new PINs for the rows whose digest already exists."""
        taken = {digest for _, digest, _ in self.rows} | colliding
        redrawn = 0
        for i, (number, digest, _) in enumerate(self.rows):
            if digest in colliding:
                n = int(number.rsplit("-", 1)[1])
                self.rows[i] = _draw(self.series, range(n, n + 1), taken)[0]
                redrawn += 1
        return redrawn

    def encrypted(self) -> Iterator[tuple[str, str, int, bytes]]:
        for number, digest, pin in self.rows:
            version, token = pin_service.encrypt(pin, number)
            yield number, digest, version, token


def _lifecycle(series: Series, created_at) -> tuple[str, object]:
    """(status, released_at) of a new card: in stock, or released when generated."""
    if series.in_stock:
        return Card.Status.IN_STOCK, None
    return Card.Status.NEW, created_at


def _copy_payload(batch: _Batch, created_at) -> io.StringIO:
    s = batch.series
    expires = s.expires_at.isoformat() if s.expires_at else ""
    valid_from = s.valid_from.isoformat() if s.valid_from else ""
    created = created_at.isoformat()
    status, released_at = _lifecycle(s, created_at)
    released = released_at.isoformat() if released_at else ""
    amount = str(s.amount)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(
        (
            s.pk,
            number,
            s.reseller_id,
            amount,
            s.currency,
            digest,
            "\\x" + token.hex(),
            version,
            status,
            released,
            valid_from,
            expires,
            created,
        )
        for number, digest, version, token in batch.encrypted()
    )
    buffer.seek(0)
    return buffer


def _copy_send(payload: io.StringIO) -> None:
    sql = (
        f"COPY {Card._meta.db_table} ({', '.join(COPY_COLUMNS)}) "
        "FROM STDIN WITH (FORMAT csv, NULL '')"
    )
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.copy_expert(sql, payload, 1 << 20)


def write_cards(series: Series, progress: Callable[[int], None] | None = None) -> int:
    """Write all of `series`' cards; returns how many PINs had to be drawn again.

    While the database writes one batch, a helper thread draws and encrypts the next (the
    driver releases the GIL while it waits for the server), so the two overlap.
    """
    if not connection.in_atomic_block:
        raise GenerationError("Cards are written inside the series' transaction.")
    created_at = timezone.now()
    end = series.first_number + series.quantity
    ranges = [
        range(start, min(start + BATCH_SIZE, end))
        for start in range(series.first_number, end, BATCH_SIZE)
    ]

    def prepare(numbers: range):
        batch = _Batch(series, numbers)
        return batch, _copy_payload(batch, created_at)

    redrawn = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        upcoming = pool.submit(prepare, ranges[0])
        for i, numbers in enumerate(ranges):
            batch, payload = upcoming.result()
            if i + 1 < len(ranges):
                upcoming = pool.submit(prepare, ranges[i + 1])
            for _ in range(MAX_REDRAWS):
                try:
                    with transaction.atomic():
                        _copy_send(payload)
                    break
                except IntegrityError:
                    # A PIN (or, if numbering was tampered with, a number) exists already.
                    colliding = _existing_digests([digest for _, digest, _ in batch.rows])
                    if not colliding:
                        raise
                    redrawn += batch.redraw(colliding)
                    payload = _copy_payload(batch, created_at)
            else:
                raise GenerationError("Could not draw unique PINs; the PIN space is too full.")
            if progress:
                progress(numbers.stop - series.first_number)
    return redrawn
