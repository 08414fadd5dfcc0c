"""Issue 25 at a phone's width (390 px): the operator finds a series by its label and releases
it; the customer lands on Payment Gateways, mistypes a PIN, corrects it and is credited.
Screenshots of the audit log and Payment Gateways at 390 and 1280 px."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.factories import generate
from topup.models import Card
from topup.pins import pin_service

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def pin_of(card: Card) -> str:
    return pin_service.decrypt(card.pin_encrypted, card.pin_key_version, card.number)


def grouped(pin: str) -> str:
    return " ".join(pin[i : i + 4] for i in range(0, len(pin), 4))


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_at_390_px_a_labelled_series_is_released_and_redeemed(
    page, tree, customer, settings, shoot
):
    settings.TOPUP_FOUR_EYES = False  # one operator plays every part here
    series = generate(
        tree["operator"], tree["north"], quantity=3, code="880", in_stock=True,
        label="PO-7781 Kiosk fair",
    )  # fmt: skip
    generate(tree["operator"], tree["north"], quantity=2, code="881", label="Other run")
    page.set_viewport_size(PHONE)

    # The operator finds the series by a word of its label and releases it.
    login(page, "op")
    page.wait_for_load_state("load")  # the menu button's script is deferred
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Series").click()
    page.get_by_role("heading", name="Series", exact=True).wait_for()
    page.get_by_label("Series code or label").fill("kiosk")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.reconciliation tbody tr")
    assert rows.count() == 1 and "PO-7781 Kiosk fair" in rows.first.inner_text()
    rows.first.get_by_role("link", name="Done").click()
    assert page.get_by_test_id("series-label").inner_text() == "PO-7781 Kiosk fair"
    page.get_by_role("link", name="Release this series").click()
    assert page.get_by_test_id("will-change-count").inner_text() == "3"
    page.get_by_role("button", name="Release 3 cards").click()
    page.get_by_text("3 cards released.").wait_for()
    assert set(Card.objects.filter(series=series).values_list("status", flat=True)) == {"new"}
    assert no_horizontal_overflow(page)

    # Generate previews the value and the card numbers before the submit.
    page.goto("/series/new/")
    page.wait_for_load_state("load")
    page.get_by_label("Amount").fill("2.50")
    page.get_by_label("Quantity").fill("1000")
    page.get_by_label("Series", exact=True).fill("880")
    expect(page.get_by_test_id("generate-preview")).to_have_text(
        "1,000 cards × $2.50 = $2,500.00; card numbers 880-00000004 to 880-00001003."
    )
    shoot(page, "series-generate-preview-390")

    page.goto("/audit-log/")
    page.get_by_role("heading", name="Audit log").wait_for()
    assert page.get_by_test_id("audit-action").first.inner_text() == "Cards released"
    assert no_horizontal_overflow(page)
    shoot(page, "audit-log-390")
    page.set_viewport_size(DESKTOP)
    shoot(page, "audit-log-1280")
    page.set_viewport_size(PHONE)

    # The customer lands on Payment Gateways with the PIN field focused.
    card = Card.objects.filter(series=series).order_by("number").first()
    pin = pin_of(card)
    wrong = pin[:-1] + str((int(pin[-1]) + 1) % 10)
    page.context.clear_cookies()
    login(page, customer.user.username)
    page.get_by_role("heading", name="Payment Gateways").wait_for()
    assert page.url.endswith("/payment-gateways/")
    field = page.get_by_label("PIN", exact=True)
    expect(field).to_be_focused()
    page.wait_for_load_state("load")  # the grouping script is deferred
    page.keyboard.type(wrong)
    expect(field).to_have_value(grouped(wrong))  # grouped as typed
    shoot(page, "payment-gateways-390")
    page.get_by_role("button", name="Redeem").click()

    # Refused: the typed PIN is kept, focused and announced with the error.
    page.get_by_text("This PIN cannot be used.").wait_for()
    expect(field).to_have_value(grouped(wrong))
    expect(field).to_be_focused()
    page.wait_for_load_state("load")
    assert field.get_attribute("aria-invalid") == "true"
    assert "id_pin_error" in field.get_attribute("aria-describedby")
    assert no_horizontal_overflow(page)
    shoot(page, "payment-gateways-refused-390")
    page.set_viewport_size(DESKTOP)
    shoot(page, "payment-gateways-refused-1280")
    page.set_viewport_size(PHONE)

    # The customer fixes the last digit: caret at the end, one backspace, the right digit.
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    page.keyboard.type(pin[-1])
    expect(field).to_have_value(grouped(pin))
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("$10.00 added to your balance. New balance: $15.00.").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "$15.00"
    customer.refresh_from_db()
    assert customer.balance == Decimal("15.00")
    shoot(page, "payment-gateways-credited-390")
    page.set_viewport_size(DESKTOP)
    shoot(page, "payment-gateways-1280")
