"""Finding 3: lifting a lockout and the attempts page stay inside the user's subtree."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from resellers.models import AuditEvent
from tests.factories import AccountFactory, SeriesFactory, make_card
from topup import services
from topup.models import RedemptionAttempt

ATTEMPTS = reverse("topup:attempt-list")
LIFT = reverse("topup:lockout-lift")


@pytest.fixture
def north_watcher(client, tree):
    """North's reseller user, given the rights to see attempts and lift lockouts."""
    user = tree["north_user"]
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_redemptionattempt", "lift_lockout"])
    )
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_lifting_an_address_forgives_only_failures_in_the_users_subtree(
    north_watcher, tree, settings
):
    settings.REDEEM_ADDRESS_FAILURES = 4
    north_customer = AccountFactory(reseller=tree["north"])
    south_customer = AccountFactory(reseller=tree["south"], currency="EUR")
    for account in [north_customer, north_customer, south_customer, south_customer]:
        services.card_redeem(account=account, typed_pin="000011112222", client_address="10.7.0.1")
    assert north_watcher.post(LIFT, {"address": "10.7.0.1"}).status_code == 302
    lifted = RedemptionAttempt.objects.filter(lifted=True)
    assert set(lifted.values_list("account_id", flat=True)) == {north_customer.pk}
    assert RedemptionAttempt.objects.filter(account=south_customer, lifted=False).count() == 2
    assert AuditEvent.objects.get(action="lockout.lifted").details["lifted"] == 2


@pytest.mark.django_db
def test_lifting_another_subtrees_account_is_a_404(north_watcher, tree):
    south_customer = AccountFactory(reseller=tree["south"], currency="EUR")
    services.card_redeem(
        account=south_customer, typed_pin="000011112222", client_address="10.7.0.2"
    )
    assert north_watcher.post(LIFT, {"account": south_customer.pk}).status_code == 404
    assert not RedemptionAttempt.objects.filter(lifted=True).exists()


@pytest.mark.django_db
def test_the_attempts_page_hides_card_numbers_outside_the_users_scope(north_watcher, tree):
    south_series = SeriesFactory(code="909", reseller=tree["south"], amount=Decimal("5.00"))
    _, south_pin = make_card(series=south_series, number="909-00000001")
    north_series = SeriesFactory(code="808", reseller=tree["north"], amount=Decimal("5.00"))
    _, north_pin = make_card(series=north_series, number="808-00000001")
    customer = AccountFactory(reseller=tree["north"], currency="EUR")
    # A north customer types a south card's PIN (refused, logged with the card's number).
    services.card_redeem(account=customer, typed_pin=south_pin, client_address="10.7.0.3")
    services.card_redeem(account=customer, typed_pin=north_pin, client_address="10.7.0.3")
    assert set(RedemptionAttempt.objects.values_list("card_number", flat=True)) == {
        "909-00000001",
        "808-00000001",
    }
    page = north_watcher.get(ATTEMPTS).content.decode()
    assert "909-00000001" not in page
    assert "808-00000001" in page
    assert "outside your scope" in page
