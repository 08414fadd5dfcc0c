"""An operator gives a warehouse system an API key with the release right and subscribes a
receiver to `cards.released`; the system releases a range through the API; the worker
delivers the event; the subscription's delivery log shows it delivered."""

import json
import urllib.request

import pytest

from tests.e2e.conftest import login
from tests.factories import generate, operator
from tests.webhooks.conftest import Receiver
from topup.models import Card
from webhooks.delivery import deliveries_run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    receiver = Receiver(fail_first=0)
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_a_range_released_through_the_api_is_told_to_the_webhook(page, live_server, tree, receiver):
    north = tree["north"]
    north.name = "North Telecom"
    north.save()
    maker = operator(tree["root"], username="maker")
    generate(maker, north, quantity=10, code="310", in_stock=True)
    login(page, "op")

    # The key, with the release right, for North Telecom.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.get_by_role("link", name="New API key").click()
    page.get_by_label("Name").fill("Warehouse")
    page.get_by_label("Reseller", exact=True).select_option(label="North Telecom")
    page.get_by_label("Allowed networks").fill("127.0.0.1")
    page.get_by_label("Release serial ranges for sale, optionally to a reseller").check()
    page.get_by_role("button", name="Create key").click()
    token = page.get_by_test_id("api-token").input_value()
    assert token.startswith("tk_")

    # The subscription, reached through the navigation's Webhooks link.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name="New subscription").click()
    page.get_by_label("Reseller", exact=True).select_option(label="North Telecom")
    page.get_by_label("Receiver URL").fill(receiver.url)
    page.get_by_label("Cards released").check()
    page.get_by_role("button", name="Create subscription").click()
    receiver.secret = page.get_by_test_id("webhook-secret").input_value()

    # The warehouse system's script.
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/card-ranges/release",
        data=json.dumps({"first": "310-00000001", "last": "310-00000006"}).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": "shipment-1",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as answer:
        assert answer.status == 200
        assert json.loads(answer.read()) == {"status": "done", "changed": 6, "skipped": 0}
    assert Card.objects.filter(number__startswith="310-", status="new").count() == 6

    # The worker's delivery round, as the webhook tests run it.
    deliveries_run()
    assert receiver.processed_types() == ["cards.released"]
    assert receiver.bad_signatures == 0

    page.get_by_role("link", name="Delivery log").click()
    row = page.get_by_test_id("delivery").filter(has_text="cards.released")
    assert row.count() == 1
    assert "Delivered" in row.inner_text()
