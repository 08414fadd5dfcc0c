"""Reads of the heavy, read-only pages on a streaming replica (DATABASE_REPLICA_URL).

Only the pages named in REPLICA_READ_VIEWS read the replica, and only on GET/HEAD: the
middleware sets a per-request flag around the view and `ReplicaRouter` reads it. Every other
read, every write, every `select_for_update` and everything inside `transaction.atomic` stays
on the primary (money and locks never touch the replica). The flag is not set when:

- the user wrote something (any POST) less than REPLICA_READ_YOUR_WRITES_SECONDS ago: a
  cookie makes their next pages read the primary, so their own edit never seems to vanish;
- the replica lags more than REPLICA_MAX_LAG_SECONDS behind (asked at most every
  REPLICA_CHECK_SECONDS per process, from `pg_last_xact_replay_timestamp()`);
- the replica did not answer its last check (a down replica is tried again after
  REPLICA_CHECK_SECONDS).

A replica that fails in the middle of a page (it was up at the last check) costs that page one
more run on the primary, never a 500: the view is read-only, so running it again is safe.

A streamed download (the CSV exports) reads its rows after the view has returned, while the
response is sent: its chunks are produced with the flag set again, once the replica has
answered a first round trip (else the whole file comes from the primary). A replica that dies
after the first rows have gone out ends that download early, as the primary dying would.
The card exports with PINs are POSTs, so they never read here: their audit row records exactly
which cards left, and those rows must be the ones read (a replica seconds behind could still
show a card moved out of the user's reach).
"""

import contextvars
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import Error, connections

REPLICA = "replica"
READ_PRIMARY_COOKIE = "read_primary"
_wanted = contextvars.ContextVar("replica_reads_wanted", default=False)
logger = logging.getLogger(__name__)

# Seconds of replay lag; 0 when the replica has replayed all it received (an idle primary
# sends nothing, so the last replayed transaction's age alone would read as growing lag).
LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END
"""


@dataclass
class ReplicaState:
    """What the last check of the replica found: "ok", "lagging", "down" or "off"."""

    status: str
    lag_seconds: float | None
    checked_at: float


class ReplicaHealth:
    """The replica's state, asked at most every `check_seconds` (per process)."""

    clock = staticmethod(time.monotonic)  # a seam for tests

    def __init__(self):
        self._state: ReplicaState | None = None

    def state(self, *, fresh: bool = False) -> ReplicaState:
        if not replica_configured():
            return ReplicaState("off", None, self.clock())
        now = self.clock()
        known = self._state
        if fresh or known is None or now - known.checked_at >= settings.REPLICA_CHECK_SECONDS:
            known = self._state = self._ask(now)
        return known

    def mark_down(self) -> None:
        self._state = ReplicaState("down", None, self.clock())

    def forget(self) -> None:
        self._state = None

    def _ask(self, now: float) -> ReplicaState:
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute(LAG_SQL)
                in_recovery, lag = cursor.fetchone()
        except Error as exc:
            logger.warning("replica unreachable, reading the primary: %s", type(exc).__name__)
            connections[REPLICA].close()
            return ReplicaState("down", None, now)
        # Not in recovery: the alias points at the primary itself (a test mirror), no lag.
        lag = float(lag or 0) if in_recovery else 0.0
        status = "ok" if lag <= settings.REPLICA_MAX_LAG_SECONDS else "lagging"
        return ReplicaState(status, lag, now)


health = ReplicaHealth()


def replica_configured() -> bool:
    return settings.REPLICA_READS and REPLICA in settings.DATABASES


def replica_in_use() -> bool:
    """True while this request's reads may go to the replica."""
    return _wanted.get()


class ReplicaRouter:
    """Sends a read to the replica only while the request's flag is set (see module doc)."""

    def db_for_read(self, model, **hints):
        if not _wanted.get() or connections["default"].in_atomic_block:
            return None
        return REPLICA

    def db_for_write(self, model, **hints):
        return None

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == REPLICA:
            return False  # the standby replays the primary's schema
        return None


class ReplicaReadsMiddleware:
    """Sets the replica flag around the views in REPLICA_READ_VIEWS; falls back on errors."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
            if _wanted.get() and response.streaming:
                response.streaming_content = _streamed_from_replica(response.streaming_content)
        finally:
            _wanted.set(False)
        if request.method == "POST" and replica_configured():
            # The user's next pages read what they just wrote.
            response.set_cookie(
                READ_PRIMARY_COOKIE,
                "1",
                max_age=settings.REPLICA_READ_YOUR_WRITES_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        _wanted.set(
            request.method in ("GET", "HEAD")
            and match is not None
            and match.view_name in settings.REPLICA_READ_VIEWS
            and READ_PRIMARY_COOKIE not in request.COOKIES
            and replica_configured()
            and health.state().status == "ok"
        )

    def process_exception(self, request, exception):
        if not _wanted.get() or not isinstance(exception, Error):
            return None
        # The replica failed after its last check said it was fine: read the primary.
        logger.warning("replica failed mid-page, reading the primary: %s", type(exception))
        health.mark_down()
        connections[REPLICA].close()
        _wanted.set(False)
        match = request.resolver_match
        response = match.func(request, *match.args, **match.kwargs)
        if hasattr(response, "render") and callable(response.render):
            response = response.render()
        return response


def _streamed_from_replica(chunks):
    """A streamed response's chunks, each produced with the replica flag set (see module doc).

    The flag is set only while a chunk is made, never while the server sends it: whatever runs
    in between (other requests of this thread, the response's close) reads the primary.
    """
    if not _replica_answers():
        yield from chunks
        return
    chunks = iter(chunks)
    while True:
        _wanted.set(True)
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except Error:
            health.mark_down()
            connections[REPLICA].close()
            raise
        finally:
            _wanted.set(False)
        yield chunk


def _replica_answers() -> bool:
    """One round trip to the replica before a download starts reading it."""
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Error as exc:
        logger.warning("replica unreachable, streaming from the primary: %s", type(exc).__name__)
        health.mark_down()
        connections[REPLICA].close()
        return False
