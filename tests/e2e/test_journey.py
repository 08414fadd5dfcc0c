"""The card's journey in a real browser: in stock, released by range, redeemed, its history."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from resellers.models import Reseller
from tests import factories
from tests.e2e.conftest import login
from topup.models import Card
from topup.pins import pin_service

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def pin_of(number: str) -> str:
    """What is printed on the card (the test plays the print shop)."""
    card = Card.objects.get(number=number)
    return pin_service.decrypt(card.pin_encrypted, card.pin_key_version, card.number)


def test_a_printed_series_from_stock_to_a_customer(page, tree, customer, settings, shoot):
    settings.TOPUP_FOUR_EYES = True
    Reseller.objects.filter(pk=tree["north"].pk).update(name="North Telecom")
    factories.operator(tree["root"], username="op2", first_name="Olga", last_name="Second")

    # The first operator generates 1,000 cards in stock (the form's default).
    login(page, "op")
    page.get_by_role("link", name="Top-up Cards", exact=True).click()
    page.get_by_role("link", name="Generate Top-Up Cards").click()
    page.get_by_label("Amount").fill("10.00")
    page.get_by_label("Quantity").fill("1000")
    page.get_by_label("Series", exact=True).fill("555")
    page.get_by_label("Reseller").select_option(label="Root")
    expiry = (timezone.localtime() + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Expiry date").fill(expiry)
    assert page.get_by_label("In stock").is_checked()
    page.get_by_role("button", name="Generate").click()
    page.get_by_text("Series 555: 1,000 cards generated, in stock until released.").wait_for()
    assert set(Card.objects.values_list("status", flat=True)) == {"in_stock"}

    # Four eyes: the generator may not export its own series, and is told why.
    page.goto("/cards/?series=555")
    assert page.locator("table.cards .status-label").first.inner_text() == "In stock"
    page.get_by_role("radio", name=re.compile(r"All 1,000 cards of this search")).check()
    page.locator("summary", has_text="Print & export").click()
    page.get_by_role("button", name="Export CSV with PINs").click()
    page.get_by_text(
        "Four eyes: you generated series 555, so another person must export the PINs of it."
    ).wait_for()
    shoot(page, "four-eyes-refusal")

    # A second operator releases the range 1-500 to North Telecom: count and value first.
    page.context.clear_cookies()
    login(page, "op2")
    page.goto("/cards/")
    page.get_by_text("Advanced search").click()
    page.get_by_label("Serial range from").fill("555-00000001")
    page.get_by_label("Serial range to").fill("555-00000500")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_test_id("total-count").inner_text() == "500"
    page.get_by_role("radio", name=re.compile(r"All 500 cards of this search")).check()
    page.locator("summary", has_text="Change").click()
    page.get_by_role("button", name="Release", exact=True).click()
    assert page.get_by_test_id("will-change-count").inner_text() == "500"
    assert page.get_by_test_id("will-change-value").inner_text() == "$5,000.00"
    page.get_by_label("Move to reseller").select_option(label="North Telecom")
    shoot(page, "release")
    page.get_by_role("button", name="Release 500 cards").click()
    page.get_by_text("500 cards released.").wait_for()
    released = Card.objects.filter(status="new", reseller=tree["north"]).count()
    assert released == 500
    assert Card.objects.get(number="555-00000600").status == "in_stock"

    # A customer of North Telecom redeems card 10 (credited) and card 600 (refused).
    page.context.clear_cookies()
    login(page, customer.user.username)
    page.get_by_role("link", name="Payment Gateways").click()
    page.get_by_label("PIN").fill(pin_of("555-00000010"))
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("$10.00 added to your balance. New balance: $15.00.").wait_for()
    page.get_by_label("PIN").fill(pin_of("555-00000600"))
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("This PIN cannot be used.").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "$15.00"
    customer.refresh_from_db()
    assert customer.balance == Decimal("15.00")

    # The history of card 10, reached by typing its serial number.
    page.context.clear_cookies()
    login(page, "op2")
    page.goto("/cards/")
    page.get_by_label("Card history", exact=True).fill("555-00000010")
    page.get_by_role("button", name="Show").click()
    history = page.get_by_test_id("card-history").locator("li")
    assert history.count() == 3
    texts = [history.nth(i).inner_text() for i in range(3)]
    assert "Generated" in texts[0] and "by op" in texts[0] and "series 555" in texts[0]
    assert "Released for sale" in texts[1] and "by Olga Second" in texts[1]
    assert "to North Telecom" in texts[1]
    assert "Redeemed" in texts[2] and f"credited to account {customer.name}" in texts[2]
    assert page.get_by_test_id("card-status").inner_text().strip() == "Activated"
    shoot(page, "card-history")
