"""Which database failures pass if tried again on a fresh connection, and the loop that does.

A lost connection (the server restarted, an administrator's `pg_terminate_backend`, a network
cut: SQLSTATE class 08, 57P01-57P03, or no SQLSTATE at all because the client lost the
server), a failover (a write on a primary that became a standby: 25006) and a statement
timeout (57014) say nothing about the work itself: the same transaction, run again on a new
connection once the database is back, does the same thing. Deadlocks and lock timeouts are
retried closer to the work (topup.services.bulk.with_retries).

`rerun_after_outages` is for work that is all or nothing but longer than one transaction's
retry (a series, a card sheet): after an outage, its claim is handed back once the database
answers and it runs again from the start; a run whose final write did commit is found done.

Work retried here must be one whole transaction (or a sequence of them that resumes where the
last committed one left off): a commit whose fate is unknown is run again, so it must find
its own effect and not do it twice.
"""

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, Error, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)
T = TypeVar("T")

OUTAGE_SQLSTATES = {
    "57P01": "the server terminated the connection",
    "57P02": "the server crashed",
    "57P03": "the server is starting or stopping",
    "25006": "the server is read-only (a failover)",
    "57014": "a statement took too long",
}


class DatabaseAway(DatabaseError):
    """The database stayed unreachable for longer than the retry budget."""


def outage(exc: BaseException) -> str | None:
    """Why `exc` is an outage worth retrying on a new connection, or None when it is not."""
    if isinstance(exc, DatabaseAway):
        return str(exc)
    if not isinstance(exc, Error):  # InterfaceError is no DatabaseError (PEP 249)
        return None
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    code = getattr(cause, "pgcode", None) or ""
    if code in OUTAGE_SQLSTATES:
        return OUTAGE_SQLSTATES[code]
    if code.startswith("08"):
        return "the connection failed"
    if not code and isinstance(exc, (OperationalError, InterfaceError)):
        return "the connection was lost"
    return None


def drop_broken_connections() -> None:
    """Close every connection outside a transaction, so the next query opens a new one.

    A connection inside `atomic` is left alone: its block must end (and roll back) first.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            try:
                connection.close()
            except Error:
                connection.connection = None  # the socket is gone; forget it


def backoff_delays(budget: float) -> list[float]:
    """Exponential waits (0.25 s doubling up to 8 s, with jitter) that add up to `budget`."""
    delays, total, delay = [], 0.0, 0.25
    while total < budget:
        wait = min(delay, budget - total)
        delays.append(wait)
        total += wait
        delay = min(delay * 2, 8.0)
    return delays


def with_reconnect(work: Callable[[], T], *, what: str, budget: float | None = None) -> T:
    """`work()`, run again on a new connection after each outage until `budget` seconds
    (DB_OUTAGE_RETRY_SECONDS) of waiting are spent; then DatabaseAway with a readable reason.
    Any other error passes through untouched."""
    budget = settings.DB_OUTAGE_RETRY_SECONDS if budget is None else budget
    delays = iter(backoff_delays(budget))
    while True:
        try:
            return work()
        except Error as exc:
            reason = outage(exc)
            if reason is None or isinstance(exc, DatabaseAway):
                raise
            if any(c.in_atomic_block for c in connections.all(initialized_only=True)):
                raise  # the caller's transaction is lost; only it can start over
            drop_broken_connections()
            wait = next(delays, None)
            if wait is None:
                raise DatabaseAway(
                    f"The database stayed unreachable for {budget:.0f} seconds ({reason})."
                ) from exc
            logger.warning("%s: %s; trying again in %.2f s (%s)", what, reason, wait, exc)
            time.sleep(wait * random.uniform(0.8, 1.2))


def rerun_after_outages(run: Callable[[], T], *, hand_back: Callable[[], object], what: str) -> T:
    """`run()`; after an outage, `hand_back()` (its claim: running -> pending, on a new
    connection once the database answers) and run again, up to DB_OUTAGE_RESTARTS times.

    Only for work that leaves nothing behind when cut off but its claim, and whose last write
    (state done) commits with the rest: then a rerun after an unknown commit finds it done.
    While the database stays away the claim stays too, for the reaper.
    """
    restarts = settings.DB_OUTAGE_RESTARTS
    for attempt in range(restarts + 1):
        try:
            return run()
        except Error as exc:
            reason = outage(exc)
            if reason is None or attempt == restarts:
                raise
            logger.warning("%s: %s; starting it again (%s)", what, reason, exc)
        drop_broken_connections()  # every one: a second connection (progress) may be broken
        with_reconnect(hand_back, what=what)
    raise AssertionError("unreachable")  # the loop returns or raises
