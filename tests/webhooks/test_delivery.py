"""Webhooks: every event reaches a receiver that fails at first, signed, once per id."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests import factories
from topup import services
from topup.models import BulkJob
from topup.selectors import cards_for_selection
from webhooks.delivery import backoff, deliveries_run, http_post, payload
from webhooks.events import webhook_event
from webhooks.models import Delivery, Event, EventType
from webhooks.services import subscription_create

ALL = [event.value for event in EventType]


def drain(*, start=None, send=http_post, rounds=20):
    """Run the worker until nothing is pending, stepping the clock past each backoff."""
    now = start or timezone.now()
    for _ in range(rounds):
        deliveries_run(now=now, send=send)
        if not Delivery.objects.filter(state=Delivery.State.PENDING).exists():
            return
        now += timedelta(days=1)
    raise AssertionError("deliveries still pending")


@pytest.fixture
def subscription(tree, receiver):
    sub, secret = subscription_create(
        user=tree["operator"], reseller=tree["north"], url=receiver.url, events=ALL
    )
    receiver.secret = secret
    return sub


@pytest.mark.django_db
def test_every_event_is_delivered_signed_and_processed_once(tree, receiver, subscription):
    operator = tree["operator"]
    # series.generated (in stock), cards.released (at once), job.finished (a background
    # release), card.redeemed, lockout.started.
    series = factories.generate(operator, tree["north"], quantity=6, in_stock=True)
    first = cards_for_selection(operator, {"search": "serials_max=101-3"})
    services.cards_release(user=operator, cards=first, selection={"search": "serials_max=101-3"})
    # The job is North's (its user's company): its job.finished goes to North's receiver.
    north_user = tree["north_user"]
    north_user.user_permissions.add(Permission.objects.get(codename="release_cards"))
    north_user = type(north_user).objects.get(pk=north_user.pk)
    result = services.cards_release(
        user=north_user, cards=series.cards.all(), selection={"search": "series=101"},
        background=True,
    )  # fmt: skip
    services.jobs.bulk_job_run(job_id=result.job.pk)
    assert BulkJob.objects.get(pk=result.job.pk).state == "done"
    account = factories.AccountFactory(reseller=tree["north_retail"], currency="USD")
    card, pin = factories.make_card(series=series, number="101-99999999")
    assert services.card_redeem(account=account, typed_pin=pin, client_address="192.0.2.1").amount
    for _ in range(5):
        services.card_redeem(
            account=account, typed_pin="0000 0000 0000", client_address="192.0.2.1"
        )
    # Outside the subscription's subtree: South's events are not sent to North's receiver.
    factories.generate(operator, tree["south"], quantity=2, code="202")

    drain()

    assert receiver.processed_types() == sorted(
        ["series.generated", "cards.released", "cards.released", "job.finished",
         "card.redeemed", "lockout.started"]
    )  # fmt: skip
    assert set(receiver.tries.values()) == {3}  # failed twice, then delivered
    assert receiver.bad_signatures == 0
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}
    assert not Event.objects.filter(dispatched=False).exists()
    body = b"".join(receiver.bodies)
    assert pin.encode() not in body and b"whsec_" not in body and b"pin" not in body.lower()


@pytest.mark.django_db
def test_a_worker_killed_mid_delivery_loses_nothing(tree, receiver, subscription):
    receiver.fail_first = 0
    webhook_event(EventType.SERIES_GENERATED, reseller_id=tree["north_retail"].pk, data={"n": 1})

    def killed(url, body, headers):
        http_post(url, body, headers)  # the receiver got it; the worker dies before recording
        raise SystemExit("killed")

    with pytest.raises(SystemExit):
        deliveries_run(send=killed)
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    deliveries_run()
    delivery.refresh_from_db()
    assert delivery.state == "delivered"
    assert receiver.tries == {delivery.message_id: 2}  # the same webhook-id twice ...
    assert receiver.processed == [(delivery.message_id, "series.generated")]  # ... acted on once


@pytest.mark.django_db
def test_retries_back_off_and_end_failed(tree, receiver, subscription, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 4
    receiver.fail_first = 100
    webhook_event(EventType.JOB_FINISHED, reseller_id=tree["north"].pk, data={})
    now = timezone.now()
    waits = []
    for _ in range(4):
        deliveries_run(now=now)
        delivery = Delivery.objects.get()
        waits.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at
    assert delivery.state == "failed" and delivery.attempts == 4
    assert waits[:3] == [backoff(1), backoff(2), backoff(3)]
    assert backoff(2) == 2 * backoff(1)
    assert delivery.tries.count() == 4 and delivery.last_status_code == 500
    deliveries_run(now=now + timedelta(days=30))
    assert Delivery.objects.get().attempts == 4  # a failed delivery is not tried again


@pytest.mark.django_db
def test_the_outbox_row_shares_the_change_s_transaction(tree, subscription):
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.generate(tree["operator"], tree["north"], quantity=2)
        assert Event.objects.filter(type="series.generated").count() == 1
        raise RuntimeError("rolled back")
    assert not Event.objects.exists()
    # Nobody subscribed to South's subtree: no outbox row at all.
    assert not webhook_event(EventType.SERIES_GENERATED, reseller_id=tree["south"].pk, data={})
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_the_payload_is_the_same_on_every_try(tree, subscription):
    webhook_event(EventType.CARDS_RELEASED, reseller_id=tree["north"].pk, data={"released": 2})
    event = Event.objects.get()
    assert payload(event) == payload(Event.objects.get())
    assert b'"released":2' in payload(event)


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3/h", "http://169.254.169.254/latest", "http://[::1]/h", "ftp://x/"]
)
@pytest.mark.django_db
def test_private_receivers_are_refused(tree, url):
    with pytest.raises(ValidationError):
        subscription_create(user=tree["operator"], reseller=tree["north"], url=url, events=ALL)


@pytest.mark.django_db
def test_loopback_is_refused_unless_allowed_also_when_delivering(
    tree, receiver, subscription, settings
):
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError, match="private, loopback"):
        subscription_create(
            user=tree["operator"], reseller=tree["north"], url=receiver.url, events=ALL
        )
    webhook_event(EventType.JOB_FINISHED, reseller_id=tree["north"].pk, data={})
    deliveries_run()
    delivery = Delivery.objects.get()
    assert "loopback" in delivery.last_error and delivery.last_status_code is None
    assert receiver.tries == {}


@pytest.mark.django_db
def test_the_amount_in_a_redeemed_event_is_text(tree, receiver, subscription):
    receiver.fail_first = 0
    series = factories.SeriesFactory(code="303", reseller=tree["north"], amount=Decimal("7.50"))
    _, pin = factories.make_card(series=series)
    account = factories.AccountFactory(reseller=tree["north"], currency="USD")
    services.card_redeem(account=account, typed_pin=pin, client_address="192.0.2.1")
    event = Event.objects.get(type="card.redeemed")
    assert event.data == {
        "account": account.number, "card": event.data["card"], "amount": "7.50",
        "currency": "USD",
    }  # fmt: skip
    assert event.reseller_id == tree["north"].pk


@pytest.mark.django_db
def test_a_retry_asks_the_worker_back_once_when_it_is_due(tree, receiver, subscription, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    receiver.fail_first = 100
    webhook_event(EventType.JOB_FINISHED, reseller_id=tree["north"].pk, data={})
    deliveries_run()
    deliveries_run()  # nothing due: asks for nothing more
    delivery = Delivery.objects.get()
    (task,) = DBTaskResult.objects.all()
    assert task.run_after == delivery.next_attempt_at and delivery.attempts == 1
