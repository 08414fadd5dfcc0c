"""Payment Gateways as the customer meets it: the landing page, the PIN field announced with
its error, focused, and the typed value kept after a refusal (in the form only)."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import UserFactory, make_card

GATEWAY = reverse("topup:payment-gateways")


def test_a_customer_who_may_redeem_lands_on_payment_gateways(client, customer):
    client.force_login(customer.user)
    assert client.get(reverse("home"))["Location"] == GATEWAY


def test_a_customer_without_the_redeem_right_lands_on_its_balance(client, customer):
    customer.user.groups.clear()
    client.force_login(customer.user)
    assert client.get(reverse("home"))["Location"] == reverse("billing:balance")


def test_staff_without_the_card_right_land_on_a_page_they_may_open(client, tree):
    user = UserFactory(reseller=tree["north"], username="accounts_only")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="billing", codename="view_account")
    )
    client.force_login(user)
    response = client.get(reverse("home"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("billing:account-list")


def test_staff_with_no_page_land_on_their_password(client, tree):
    client.force_login(UserFactory(reseller=tree["north"], username="nothing"))
    response = client.get(reverse("home"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("password_change")


def test_the_pin_field_is_focused_and_announced(customer_client):
    page = customer_client.get(GATEWAY).content.decode()
    assert "autofocus" in page
    assert 'aria-describedby="id_pin_helptext"' in page
    assert "js/pin.js" in page


@pytest.mark.django_db
def test_a_refusal_keeps_the_typed_pin_and_points_at_the_error(customer_client, tree):
    response = customer_client.post(GATEWAY, {"pin": "1234 5678 9012"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="1234 5678 9012"' in page
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_pin_helptext id_pin_error"' in page
    assert '<div class="error" id="id_pin_error">' in page
    assert "autofocus" in page


def test_the_support_page_does_not_write_the_pin_back(client, tree, customer):
    card, pin = make_card(reseller=tree["north"])
    client.force_login(tree["operator"])
    url = reverse("topup:support-redeem", args=[customer.pk])
    response = client.post(url, {"pin": "9" * 12, "note": "call 1"})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()
    assert "9" * 12 not in response.content.decode()
