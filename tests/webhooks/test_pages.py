"""The webhook pages: scoped (another subtree's subscription is a 404), CSRF, the right."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from webhooks.delivery import deliveries_run
from webhooks.events import webhook_event
from webhooks.models import Delivery, Event, EventType, Subscription
from webhooks.services import subscription_create


@pytest.fixture
def north_sub(tree, receiver):
    sub, receiver.secret = subscription_create(
        user=tree["operator"], reseller=tree["north"], url=receiver.url, events=["job.finished"]
    )
    webhook_event(EventType.JOB_FINISHED, reseller_id=tree["north"].pk, data={"job": 1})
    return sub


def _with_rights(user):
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_subscription", "manage_webhooks"])
    )
    return type(user).objects.get(pk=user.pk)


@pytest.mark.django_db
def test_operators_hold_the_rights_from_the_migration(role_groups):
    rights = set(Group.objects.get(name="Operators").permissions.values_list("codename", flat=True))
    assert {"view_subscription", "manage_webhooks"} <= rights


@pytest.mark.django_db
def test_an_operator_creates_a_subscription_and_sees_its_secret_once(
    operator_client, tree, receiver
):
    response = operator_client.post(
        reverse("webhooks:subscription-create"),
        {"reseller": tree["north"].pk, "url": receiver.url, "events": ["cards.released"]},
    )
    sub = Subscription.objects.get()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert sub.secret in response.content.decode()
    assert (
        sub.secret
        not in operator_client.get(reverse("webhooks:subscription-list")).content.decode()
    )
    refused = operator_client.post(
        reverse("webhooks:subscription-create"),
        {"reseller": tree["north"].pk, "url": "http://10.0.0.1/x", "events": ["cards.released"]},
    )
    assert refused.status_code == 200 and Subscription.objects.count() == 1
    assert "private, loopback" in refused.content.decode()


@pytest.mark.django_db
def test_the_delivery_log_and_replay(operator_client, tree, north_sub):
    deliveries_run()
    delivery = Delivery.objects.get()
    page = operator_client.get(reverse("webhooks:delivery-list", args=[north_sub.pk]))
    assert delivery.message_id in page.content.decode() and "job.finished" in page.content.decode()
    replay = reverse("webhooks:delivery-replay", args=[north_sub.pk, delivery.pk])
    response = operator_client.post(replay)
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 0)


@pytest.mark.django_db
def test_another_subtree_s_subscription_is_a_404(client, tree, north_sub):
    client.force_login(_with_rights(tree["south_user"]))
    delivery = Delivery.objects.create(event_id=_event_id(), subscription=north_sub)
    assert client.get(reverse("webhooks:delivery-list", args=[north_sub.pk])).status_code == 404
    replay = reverse("webhooks:delivery-replay", args=[north_sub.pk, delivery.pk])
    assert client.post(replay).status_code == 404
    client.force_login(_with_rights(tree["north_user"]))
    assert client.get(reverse("webhooks:delivery-list", args=[north_sub.pk])).status_code == 200


@pytest.mark.django_db
def test_without_the_right_or_csrf_nothing_is_replayed(client, tree, north_sub):
    delivery = Delivery.objects.create(
        event_id=_event_id(), subscription=north_sub, state="failed", attempts=8
    )
    replay = reverse("webhooks:delivery-replay", args=[north_sub.pk, delivery.pk])
    client.force_login(tree["north_user"])  # no webhook rights
    assert client.post(replay).status_code == 403
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(tree["operator"])
    assert csrf_client.post(replay).status_code == 403
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 8)


def _event_id() -> int:
    return Event.objects.get().pk
