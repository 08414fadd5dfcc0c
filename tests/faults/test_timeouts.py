"""Time limits per kind of work (issue 24), and which errors count as an outage."""

import pytest
from django.db import DatabaseError, IntegrityError, connection

from config.db_faults import outage
from config.work_role import work_role

pytestmark = pytest.mark.django_db(transaction=True)


def _show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def test_a_new_connection_gets_the_web_limits_in_the_test_run():
    assert work_role() == "web"
    connection.close()
    assert (_show("statement_timeout"), _show("lock_timeout")) == ("30s", "10s")


def test_a_worker_gets_longer_limits(settings):
    settings.DB_WORK_ROLE = "worker"
    settings.DB_STATEMENT_TIMEOUT = {"web": 30, "worker": 1800}
    connection.close()
    assert (_show("statement_timeout"), _show("lock_timeout")) == ("30min", "1min")
    connection.close()


def test_a_statement_over_its_limit_is_an_outage_to_retry_not_a_bug(settings):
    settings.DB_STATEMENT_TIMEOUT = {"web": 1, "worker": 1}
    connection.close()
    with pytest.raises(DatabaseError) as caught, connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(3)")
    assert outage(caught.value) == "a statement took too long"
    connection.close()
    settings.DB_STATEMENT_TIMEOUT = {"web": 30, "worker": 1800}
    assert _show("statement_timeout") == "30s"


def test_errors_of_the_work_itself_are_not_outages():
    with pytest.raises(IntegrityError) as caught, connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE t (x int PRIMARY KEY); INSERT INTO t VALUES (1), (1)")
    assert outage(caught.value) is None
    assert outage(ValueError("no")) is None
