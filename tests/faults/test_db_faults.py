"""config.db_faults: which failures are retried on a new connection, and for how long."""

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError

from config import db_faults
from config.db_faults import DatabaseAway, backoff_delays, with_reconnect


class Coded(Exception):
    def __init__(self, pgcode):
        self.pgcode = pgcode


def _django_error(kind, pgcode):
    error = kind("boom")
    error.__cause__ = Coded(pgcode)
    return error


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_django_error(OperationalError, "57P01"), "the server terminated the connection"),
        (_django_error(OperationalError, "08006"), "the connection failed"),
        (_django_error(OperationalError, "25006"), "the server is read-only (a failover)"),
        (_django_error(OperationalError, "57014"), "a statement took too long"),
        (_django_error(OperationalError, None), "the connection was lost"),
        (_django_error(InterfaceError, None), "the connection was lost"),
        (_django_error(IntegrityError, "23505"), None),
        (_django_error(OperationalError, "40P01"), None),  # a deadlock: retried by the work
        (ValueError("no"), None),
    ],
)
def test_what_counts_as_an_outage(error, reason):
    assert db_faults.outage(error) == reason


def test_backoff_doubles_to_eight_seconds_and_adds_up_to_the_budget():
    delays = backoff_delays(30)
    assert delays[:7] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert sum(delays) == pytest.approx(30)


@pytest.mark.django_db(transaction=True)
def test_work_is_run_again_after_outages_then_gives_up_with_a_reason(monkeypatch):
    monkeypatch.setattr(db_faults.time, "sleep", lambda seconds: None)
    tries = []

    def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise _django_error(OperationalError, "57P01")
        return "done"

    assert with_reconnect(flaky, what="test", budget=5) == "done" and len(tries) == 3

    def away():
        raise _django_error(OperationalError, None)

    with pytest.raises(DatabaseAway, match=r"unreachable for 1 seconds \(the connection was lost"):
        with_reconnect(away, what="test", budget=1)

    def wrong():
        raise _django_error(IntegrityError, "23505")

    with pytest.raises(IntegrityError):
        with_reconnect(wrong, what="test", budget=5)
