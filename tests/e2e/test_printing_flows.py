"""Printing in a real browser: a sheet from the card list; a customer follows a QR link.

The PDFs are read back with pdftotext; their first pages are kept as PNG (pdftoppm) beside the
other screenshots, so `make screenshots` refreshes docs/screenshots/print-*.png too.
"""

import re
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from locales.formats import local_date
from tests.e2e.conftest import SCREENSHOTS, login
from tests.factories import SeriesFactory, generate, make_card
from topup.models import Card
from topup.pins import pin_service

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def download_pdf(page, tmp_path, name: str):
    with page.expect_download() as download:
        page.get_by_role("button", name="Make the PDF").click()
    assert download.value.suggested_filename.endswith(".pdf")
    path = tmp_path / f"{name}.pdf"
    download.value.save_as(path)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True).stdout
    return path, text.decode()


def first_page_png(pdf, name: str, dpi: int) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(SCREENSHOTS / name)],
        check=True,
    )  # fmt: skip


def test_operator_prints_a_sheet_and_a_thermal_slip_from_the_card_list(page, tree, shoot, tmp_path):
    expiry = timezone.now() + timedelta(days=365)
    series = generate(tree["operator"], tree["north"], quantity=24, code="501", expires_at=expiry)
    generate(tree["operator"], tree["north"], quantity=2, code="502")
    pins = {
        c.number: pin_service.decrypt(c.pin_encrypted, c.pin_key_version, c.number)
        for c in Card.objects.filter(series=series)
    }
    login(page, "op")
    page.goto("/cards/?series=501")
    page.get_by_role("radio", name="All 24 cards of this search").check()
    page.locator("summary", has_text="Print & export").click()
    page.get_by_role("button", name="Print", exact=True).click()
    assert "24 cards matching the search" in page.get_by_test_id("selection-count").inner_text()
    page.get_by_role("group", name="QR code").get_by_label(
        re.compile("a link to the Payment Gateways page")
    ).check()
    shoot(page, "print-form")
    pdf, text = download_pdf(page, tmp_path, "sheet")
    flat = "".join(text.split())
    assert all(number in text and pin in flat for number, pin in pins.items())
    assert "502-" not in text
    first_page_png(pdf, "print-sheet-a4", dpi=110)

    page.get_by_label(re.compile("80 mm thermal roll")).check()
    page.get_by_role("group", name="QR code").get_by_label("the PIN", exact=True).check()
    pdf, text = download_pdf(page, tmp_path, "slips")
    assert text.count("\x0c") == 24 and text.count("Serial 501-") == 24  # a slip per card
    assert text.count(f"Valid until {local_date(expiry)}") == 24
    first_page_png(pdf, "print-slip-thermal", dpi=200)


def test_a_customer_follows_a_cards_qr_link_and_the_pin_is_filled_in(page, tree, customer):
    series = SeriesFactory(code="991", reseller=tree["north"], amount=Decimal("4.00"))
    card, pin = make_card(series=series, number="991-00000001")
    # Signed out: the sign-in page keeps the PIN in the tab, never in a request.
    requests = []
    page.on("request", lambda r: requests.append((r.method, r.url, r.post_data or "")))
    page.goto(f"/payment-gateways/#pin={pin}")
    assert "/login/" in page.url and "pin=" not in page.url
    page.get_by_label("Username").fill(customer.user.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Payment Gateways").wait_for()
    # The deferred script fills the field just after the page is parsed: wait for it.
    expect(page.get_by_label("PIN")).to_have_value(pin)
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("$4.00 added to your balance.").wait_for()
    card.refresh_from_db()
    assert card.status == Card.Status.ACTIVATED
    # The PIN reached the server once: in the redemption form's body, never in an address.
    carrying = [(method, url) for method, url, body in requests if pin in url + body]
    assert carrying == [("POST", f"{page.url.split('#')[0].split('?')[0]}")]
