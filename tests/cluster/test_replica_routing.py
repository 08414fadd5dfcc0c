"""Which reads go to the replica: the routing logic, on a second alias of the test database.

The "replica" alias is a TEST MIRROR of "default" (config/settings_test.py); the cluster test
(tests/cluster/test_cluster.py) shows the same on a real streaming standby.
"""

import json
from contextlib import ExitStack
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import replica
from config.health import health_app
from config.replica import READ_PRIMARY_COOKIE, ReplicaRouter
from resellers.models import AuditEvent
from tests.factories import SeriesFactory, make_card
from topup.models import Card

# Transactional: the replica alias is its own connection and sees only what was committed, as
# a real standby would (and a test's own atomic block would keep every read on the primary).
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica", "progress"])
LIST = reverse("topup:card-list")


@pytest.fixture(autouse=True)
def replica_on(settings):
    settings.REPLICA_READS = True
    replica.health.forget()
    yield
    replica.health.forget()


@pytest.fixture
def card(tree):
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("10.00"))
    return make_card(series=series, number="101-00000001")[0]


def card_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "topup_card"' in q["sql"]]


def get_counting(client, url):
    """The response, and the card reads each alias ran for it."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as standby,
    ):
        response = client.get(url)
    return response, card_reads(primary.captured_queries), card_reads(standby.captured_queries)


def test_card_list_reads_the_replica(operator_client, card):
    response, primary, standby = get_counting(operator_client, LIST)
    assert response.status_code == 200
    assert card.number in response.content.decode()
    assert standby and not primary


def test_pages_not_named_read_the_primary(operator_client, card):
    url = reverse("topup:card-find") + "?number=" + card.number
    response, primary, standby = get_counting(operator_client, url)
    assert response.status_code in (200, 302)
    assert not standby


def test_without_a_replica_everything_reads_the_primary(operator_client, card, settings):
    settings.REPLICA_READS = False
    response, primary, standby = get_counting(operator_client, LIST)
    assert response.status_code == 200 and primary and not standby


def test_after_a_post_the_users_next_pages_read_the_primary(operator_client, card, settings):
    response = operator_client.post(reverse("topup:card-list"))  # any POST counts
    cookie = response.cookies[READ_PRIMARY_COOKIE]
    assert cookie["max-age"] == settings.REPLICA_READ_YOUR_WRITES_SECONDS
    response, primary, standby = get_counting(operator_client, LIST)
    assert response.status_code == 200 and primary and not standby
    # Once the cookie has expired, the replica again.
    operator_client.cookies.pop(READ_PRIMARY_COOKIE)
    response, primary, standby = get_counting(operator_client, LIST)
    assert standby and not primary


def test_a_lagging_replica_is_skipped(operator_client, card, settings):
    settings.REPLICA_MAX_LAG_SECONDS = -1  # any lag, even 0, is too much
    response, primary, standby = get_counting(operator_client, LIST)
    assert response.status_code == 200 and primary and not standby
    assert replica.health.state().status == "lagging"


def test_the_lag_check_is_cached(operator_client, card):
    with CaptureQueriesContext(connections["replica"]) as standby:
        operator_client.get(LIST)
        operator_client.get(LIST)
    assert sum("pg_last_wal_replay_lsn" in q["sql"] for q in standby.captured_queries) == 1


@pytest.fixture
def replica_gone():
    """The replica alias pointed at a port where nothing listens."""
    standby = connections["replica"]
    port = standby.settings_dict["PORT"]
    standby.close()
    standby.settings_dict["PORT"] = "1"
    yield
    standby.close()
    standby.settings_dict["PORT"] = port


def test_a_replica_that_is_down_is_never_a_500(operator_client, card, replica_gone):
    response = operator_client.get(LIST)
    assert response.status_code == 200
    assert card.number in response.content.decode()
    assert replica.health.state().status == "down"


def test_a_replica_that_fails_mid_page_reads_the_primary(operator_client, card, replica_gone):
    # The last check said "ok"; the replica went away since.
    replica.health._state = replica.ReplicaState("ok", 0.0, replica.health.clock())
    response = operator_client.get(LIST)
    assert response.status_code == 200
    assert card.number in response.content.decode()
    assert replica.health.state().status == "down"


# The read-only exports (GET, streamed) and what each one's rows are read from.
EXPORTS = [
    ("topup:liability-report-csv", '"topup_'),
    ("topup:series-reconciliation", 'FROM "topup_series"'),
    ("topup:audit-log-csv", 'FROM "topup_auditevent"'),
]


def download_counting(client, url, marker, aliases=("default", "replica")):
    """The downloaded file, and the reads matching `marker` each alias ran for it (the rows
    are read while the response streams, after the view has returned)."""
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[a])) for a in aliases]
        response = client.get(url)
        assert response.status_code == 200 and response.streaming
        body = b"".join(response.streaming_content).decode()
        response.close()
    return body, *([q["sql"] for q in c.captured_queries if marker in q["sql"]] for c in captured)


@pytest.mark.parametrize(("name", "marker"), EXPORTS)
def test_exports_read_the_replica(operator_client, card, name, marker):
    AuditEvent.objects.create(action=AuditEvent.Action.PIN_REVEALED, details={"card": card.pk})
    body, primary, standby = download_counting(operator_client, reverse(name), marker)
    assert standby and not primary
    assert len(body.splitlines()) >= 2  # the header and at least one row


@pytest.mark.parametrize(("name", "marker"), EXPORTS)
def test_an_export_reads_the_primary_when_the_replica_is_down(
    operator_client, card, replica_gone, name, marker
):
    # The last check said "ok": the download itself finds the replica gone before its rows.
    replica.health._state = replica.ReplicaState("ok", 0.0, replica.health.clock())
    AuditEvent.objects.create(action=AuditEvent.Action.PIN_REVEALED, details={"card": card.pk})
    body, primary = download_counting(operator_client, reverse(name), marker, ["default"])
    assert primary and len(body.splitlines()) >= 2
    assert replica.health.state().status == "down"


def test_a_replica_gone_between_the_view_and_its_rows_streams_from_the_primary(
    operator_client, card
):
    response = operator_client.get(reverse("topup:series-reconciliation"))
    assert response.status_code == 200
    standby = connections["replica"]
    port = standby.settings_dict["PORT"]
    standby.close()
    standby.settings_dict["PORT"] = "1"
    try:
        body = b"".join(response.streaming_content).decode()
        response.close()
    finally:
        standby.close()
        standby.settings_dict["PORT"] = port
    assert "101-00000001" in body
    assert replica.health.state().status == "down"


def test_an_export_after_the_users_own_write_reads_the_primary(operator_client, card):
    operator_client.cookies[READ_PRIMARY_COOKIE] = "1"
    name, marker = EXPORTS[1]
    body, primary, standby = download_counting(operator_client, reverse(name), marker)
    assert primary and not standby and "101-00000001" in body


def test_the_card_export_with_pins_reads_and_audits_on_the_primary(operator_client, card):
    url = reverse("topup:card-export") + "?apply_to=search&series=101"
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as standby,
    ):
        response = operator_client.post(url)
        body = b"".join(response.streaming_content).decode()
        response.close()
    assert response.status_code == 200 and "101-00000001" in body
    assert not card_reads(standby.captured_queries)
    assert card_reads(primary.captured_queries)
    assert AuditEvent.objects.get(action=AuditEvent.Action.CARDS_EXPORTED).details["count"] == 1


def test_writes_and_atomic_blocks_stay_on_the_primary(card):
    router = ReplicaRouter()
    token = replica._wanted.set(True)
    try:
        assert router.db_for_read(Card) == "replica"
        assert router.db_for_write(Card) is None
        with transaction.atomic():
            assert router.db_for_read(Card) is None  # a lock or a money read
    finally:
        replica._wanted.reset(token)
    assert router.db_for_read(Card) is None
    assert router.allow_migrate("replica", "topup") is False


def readyz() -> dict:
    answer = {}
    body = health_app(
        {"PATH_INFO": "/readyz", "QUERY_STRING": ""},
        lambda status, headers: answer.update(status=status),
    )
    return {"status": answer["status"], **json.loads(b"".join(body))}


def test_readyz_reports_the_replica_without_requiring_it(replica_gone):
    found = readyz()
    assert found["status"].startswith("200") and found["ready"]
    assert found["replica"] == {"status": "down", "lag_seconds": None}


def test_readyz_reports_a_replica_in_step(db):
    assert readyz()["replica"] == {"status": "ok", "lag_seconds": 0.0}
