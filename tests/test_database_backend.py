"""The PostgreSQL backend's health check: no round trip for a live connection, and a
connection the server closed is replaced before the request uses it."""

import time

import psycopg2
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    other = psycopg2.connect(**params)
    other.autocommit = True
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone()[0] is True
    finally:
        other.close()


def _new_request() -> None:
    """What Django does for each request: the next cursor runs the health check."""
    connection.health_check_done = False


@pytest.fixture
def round_trip_checks(monkeypatch):
    """Each time Django's own check (a `SELECT 1`) runs."""
    calls = []
    django_check = django_postgresql.DatabaseWrapper.is_usable

    def spy(self):
        calls.append(self.alias)
        return django_check(self)

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", spy)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_live_connection_is_reused_without_a_round_trip(round_trip_checks):
    connection.ensure_connection()
    assert connection.health_check_enabled
    raw = connection.connection
    _new_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 41 + 1")
        assert cursor.fetchone()[0] == 42
    assert connection.health_check_done
    assert connection.connection is raw
    assert round_trip_checks == []


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_replaced_before_use(round_trip_checks):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        old_pid = cursor.fetchone()[0]
    raw = connection.connection
    _terminate(old_pid)
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)  # the server's goodbye reaches the socket
    assert not connection.is_usable()
    _new_request()
    with connection.cursor() as cursor:  # the health check replaces it: no error
        cursor.execute("SELECT pg_backend_pid()")
        new_pid = cursor.fetchone()[0]
    assert new_pid != old_pid
    assert connection.connection is not raw
    assert round_trip_checks  # something was waiting on the socket: asked as before
