"""`execute_prepared`: one PREPARE per server session and statement text, then EXECUTE."""

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.postgresql.prepared import execute_prepared

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "SELECT %s::int + %s::int, %s::text || 'x'"


def run(sql=SQL, params=(40, 2, "a")):
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        execute_prepared(cursor, sql, list(params))
        row = cursor.fetchone()
    return row, [query["sql"].split()[0] for query in queries]


def test_a_statement_is_prepared_once_per_connection_then_executed():
    assert run() == ((42, "ax"), ["PREPARE", "EXECUTE"])
    assert run(params=(1, 1, "b")) == ((2, "bx"), ["EXECUTE"])
    connection.close()  # a new server session knows nothing of the old one's statements
    assert run() == ((42, "ax"), ["PREPARE", "EXECUTE"])


def test_a_statement_prepared_in_a_transaction_that_rolled_back_stays_prepared():
    connection.close()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert run() == ((42, "ax"), ["PREPARE", "EXECUTE"])
        1 / 0  # noqa: B018 - roll the transaction back
    assert run() == ((42, "ax"), ["EXECUTE"])


def test_text_it_cannot_number_and_the_setting_run_as_they_are(settings):
    assert run("SELECT '100%%', %s::int", [7]) == (("100%", 7), ["SELECT"])
    settings.PREPARED_STATEMENTS = False
    assert run(params=(1, 2, "c")) == ((3, "cx"), ["SELECT"])


def test_behind_a_transaction_pooler_it_executes_first_and_prepares_on_a_miss(settings):
    # Any server session may serve the call; a name is its text, so a session that has it
    # prepared has the right one, and one that lacks it prepares it in the same round trip.
    settings.DATABASE_POOLER = "transaction"
    connection.close()
    assert run() == ((42, "ax"), ["EXECUTE", "PREPARE"])  # the miss, then PREPARE; EXECUTE
    assert run(params=(1, 1, "b")) == ((2, "bx"), ["EXECUTE"])
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as if the pooler handed over a fresh server session
    assert run(params=(2, 2, "c")) == ((4, "cx"), ["EXECUTE", "PREPARE"])
    assert run(params=(3, 3, "d")) == ((6, "dx"), ["EXECUTE"])


def test_behind_a_transaction_pooler_a_transaction_runs_the_text(settings):
    # A failed EXECUTE would abort the transaction: inside one, nothing is prepared.
    settings.DATABASE_POOLER = "transaction"
    connection.close()
    with transaction.atomic():
        assert run() == ((42, "ax"), ["SELECT"])
        assert run(params=(1, 1, "b")) == ((2, "bx"), ["SELECT"])


def test_behind_a_transaction_pooler_other_errors_are_raised(settings):
    settings.DATABASE_POOLER = "transaction"
    with pytest.raises(DataError):
        run(params=("nan", 1, "x"))  # not an integer: the statement itself fails
