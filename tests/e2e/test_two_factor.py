"""Two-factor sign-in in a real browser: the QR code loads under the CSP, a code turns it on."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_operator_sets_up_an_authenticator_at_sign_in(page, tree, settings, shoot):
    settings.OTP_REQUIRED_FOR_CARD_SECRETS = True
    login(page, "op")
    page.get_by_role("heading", name="Two-factor sign-in").wait_for()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0  # not blocked by the CSP
    shoot(page, "two-factor-setup")

    # No menu on the setup page (issue 25): its links would all lead back here.
    assert page.get_by_role("link", name="Top-up Cards", exact=True).count() == 0
    page.goto("/cards/")  # nothing else is reachable yet
    page.get_by_role("heading", name="Two-factor sign-in").wait_for()

    device = TOTPDevice.objects.get(user=tree["operator"], confirmed=False)
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    page.get_by_label("6-digit code from your authenticator app").fill(f"{token:06d}")
    page.get_by_role("button", name="Turn on").click()
    page.get_by_text("Two-factor sign-in is on for your account.").wait_for()
    assert page.url.endswith("/cards/")  # where the operator was going
    page.get_by_role("heading", name="Top-up Cards").wait_for()
