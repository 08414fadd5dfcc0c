"""The redemption's statements run prepared, and a prepared statement may be planned once for
any parameters (a generic plan). Its lockout gate must still read only the live failures,
through their partial indexes, never every attempt: the attempt log grows without bound."""

import itertools
import re

import pytest
from django.db import connection
from django.utils import timezone

from topup.services.redemption.statement import live_failures_sql

pytestmark = pytest.mark.django_db
FAILURE_INDEXES = (
    "attempt_account_failures",
    "attempt_network_failures",
    "attempt_api_key_failures",
)


def generic_plan(sql: str, params: list) -> str:
    numbers = itertools.count(1)
    text = re.sub(r"%s", lambda _: f"${next(numbers)}", sql)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")  # a full scan only if nothing else
        cursor.execute(f"PREPARE gate_plan AS {text}")
        try:
            cursor.execute(f"EXPLAIN EXECUTE gate_plan({', '.join(['%s'] * len(params))})", params)
            return "\n".join(line for (line,) in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE gate_plan")


@pytest.mark.parametrize(
    ("whose", "target"), [("account", 1), ("address", "192.0.2.7"), ("api_key", "a1b2c3")]
)
def test_the_gate_reads_only_live_failures_whatever_the_parameters(whose, target):
    plan = generic_plan(
        *live_failures_sql(whose=whose, target=target, since=timezone.now(), limit=5)
    )
    assert "Seq Scan" not in plan, plan
    assert any(index in plan for index in FAILURE_INDEXES), plan
