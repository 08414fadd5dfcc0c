"""Two-factor sign-in (django-otp TOTP): forced on holders of the card-secret rights when
OTP_REQUIRED_FOR_CARD_SECRETS is on, optional for everyone else."""

from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

SETUP = reverse("two_factor_setup")
VERIFY = reverse("two_factor_verify")
CARD_LIST = reverse("topup:card-list")
EXPORT = reverse("topup:card-export")


def code(device: TOTPDevice, offset: int = 0) -> str:
    """The device's current code (offset: that many steps away, outside its tolerance)."""
    device.refresh_from_db()
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + offset)
    return f"{value:0{device.digits}d}"


def redirected_to(response) -> str:
    assert response.status_code == 302
    return urlsplit(response["Location"]).path


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED_FOR_CARD_SECRETS = True


def test_operator_with_card_rights_is_sent_to_setup_until_confirmed(required, operator_client):
    for url in (CARD_LIST, EXPORT, reverse("home")):
        assert redirected_to(operator_client.get(url)) == SETUP
    assert redirected_to(operator_client.post(EXPORT, {})) == SETUP

    page = operator_client.get(SETUP)
    assert page.status_code == 200
    assert "set up an authenticator app" in page.text
    device = TOTPDevice.objects.get(user=page.wsgi_request.user, confirmed=False)
    assert page.context["secret"].replace(" ", "") in device.config_url
    qr = operator_client.get(reverse("two_factor_qr"))
    assert qr["Content-Type"] == "image/svg+xml"
    assert qr.content.lstrip().startswith((b"<?xml", b"<svg"))

    response = operator_client.post(SETUP, {"token": code(device), "next": CARD_LIST})
    assert redirected_to(response) == CARD_LIST
    device.refresh_from_db()
    assert device.confirmed
    assert operator_client.get(CARD_LIST).status_code == 200


def test_wrong_or_junk_code_does_not_confirm(required, operator_client):
    operator_client.get(SETUP)
    device = TOTPDevice.objects.get(confirmed=False)
    for junk in ["", "12345", "1234567", "abcdef", "12 345", "１２３４５６", "0" * 5000]:
        response = operator_client.post(SETUP, {"token": junk})
        assert response.status_code == 200, junk
        assert response.context["form"].errors["token"], junk
    response = operator_client.post(SETUP, {"token": code(device, offset=10)})
    assert response.status_code == 200
    assert "That code is not right" in response.text
    device.refresh_from_db()
    assert not device.confirmed
    assert redirected_to(operator_client.get(CARD_LIST)) == SETUP


def test_repeated_wrong_codes_are_throttled(required, settings, operator_client):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # a minute's wait after one failure: no race
    operator_client.get(SETUP)
    device = TOTPDevice.objects.get(confirmed=False)
    operator_client.post(SETUP, {"token": code(device, offset=10)})
    # The device now makes the user wait: even the right code is refused for a while.
    response = operator_client.post(SETUP, {"token": code(device)})
    assert "Too many wrong codes" in response.text
    device.refresh_from_db()
    assert not device.confirmed and device.throttling_failure_count == 1


def test_customer_without_card_rights_is_not_forced(required, customer_client):
    assert customer_client.get(reverse("billing:balance")).status_code == 200


def test_password_change_and_logout_stay_reachable(required, operator_client, tree):
    tree["operator"].must_change_password = True
    tree["operator"].save()
    assert redirected_to(operator_client.get(CARD_LIST)) == reverse("password_change")
    assert operator_client.get(reverse("password_change")).status_code == 200
    assert redirected_to(operator_client.post(reverse("logout"))) == reverse("login")


@pytest.mark.parametrize("setting", [True, False])
def test_user_with_a_device_verifies_after_each_sign_in(settings, setting, client, tree):
    settings.OTP_REQUIRED_FOR_CARD_SECRETS = setting
    user = tree["north_user"]  # holds none of the card-secret rights: two-factor by choice
    user.set_password("right-password-1")
    user.save()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    login = client.post(
        reverse("login"), {"username": user.username, "password": "right-password-1"}
    )
    assert redirected_to(login) == reverse("home")
    assert redirected_to(client.get(CARD_LIST)) == VERIFY

    wrong = client.post(VERIFY, {"token": code(device, offset=10)})
    assert "That code is not right" in wrong.text
    assert redirected_to(client.get(CARD_LIST)) == VERIFY

    device.throttle_reset()
    token = code(device)
    response = client.post(VERIFY, {"token": token, "next": CARD_LIST})
    assert redirected_to(response) == CARD_LIST
    assert client.get(CARD_LIST).status_code == 200
    # A code is good once.
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": user.username, "password": "right-password-1"})
    assert "That code is not right" in client.post(VERIFY, {"token": token}).text
    assert redirected_to(client.get(CARD_LIST)) == VERIFY


def test_device_confirmed_in_another_session_asks_for_its_code(required, operator_client, tree):
    device = TOTPDevice.objects.create(user=tree["operator"], name="phone", confirmed=True)
    assert redirected_to(operator_client.get(CARD_LIST)) == SETUP
    response = operator_client.get(SETUP + "?next=" + CARD_LIST)
    assert response["Location"] == VERIFY + "?next=" + CARD_LIST.replace("/", "%2F")
    assert redirected_to(operator_client.get(CARD_LIST)) == VERIFY
    operator_client.post(VERIFY, {"token": code(device)})
    assert operator_client.get(CARD_LIST).status_code == 200


def test_verify_refuses_foreign_next(required, client, tree):
    device = TOTPDevice.objects.create(user=tree["operator"], name="phone", confirmed=True)
    client.force_login(tree["operator"])
    response = client.post(VERIFY, {"token": code(device), "next": "https://evil.example/"})
    assert redirected_to(response) == reverse("home")


def test_setting_off_changes_nothing_for_users_without_a_device(operator_client):
    assert operator_client.get(CARD_LIST).status_code == 200
    assert not TOTPDevice.objects.exists()


def test_optional_setup_from_the_header(customer_client, customer):
    balance = customer_client.get(reverse("billing:balance"))
    assert SETUP in balance.text
    customer_client.get(SETUP)
    device = TOTPDevice.objects.get(user=customer.user)
    assert redirected_to(customer_client.post(SETUP, {"token": code(device)})) == reverse("home")
    page = customer_client.get(SETUP)
    assert "Two-factor sign-in is on" in page.text


def test_the_forced_setup_page_shows_no_menu_but_setup_and_log_out(required, operator_client):
    page = operator_client.get(SETUP)
    assert page.context["nav_items"] == []
    html = page.content.decode()
    assert f'href="{CARD_LIST}"' not in html and 'href="/series/"' not in html
    assert f'href="{SETUP}"' in html and 'action="/logout/"' in html


def test_an_operator_not_confined_has_the_whole_menu_there(operator_client):
    # The setting off: nothing confines the operator, its pages carry the whole menu.
    page = operator_client.get(SETUP)
    assert any(item["url"] == CARD_LIST for item in page.context["nav_items"])
