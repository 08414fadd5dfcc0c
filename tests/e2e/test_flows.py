import csv
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from locales.formats import local_datetime
from tests.e2e.conftest import login
from tests.factories import SeriesFactory, generate, make_card
from topup.models import Card, Series

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def expiry_in(days: int) -> str:
    return (timezone.localtime() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def generate_in_browser(page, *, series="777", quantity="12", reseller="North"):
    page.get_by_role("link", name="Top-up Cards", exact=True).click()
    page.get_by_role("link", name="Generate Top-Up Cards").click()
    page.get_by_label("Amount").fill("15.00")
    page.get_by_label("Quantity").fill(quantity)
    page.get_by_label("Series", exact=True).fill(series)
    page.get_by_label("PIN length").fill("12")
    page.get_by_label("Reseller").select_option(label=reseller)
    page.get_by_label("Expiry date").fill(expiry_in(180))
    page.get_by_label("Released now").check()  # e-PINs: redeemable at once
    page.get_by_role("button", name="Generate").click()
    page.get_by_text(f"Series {series}: {quantity} cards generated").wait_for()


def export_search(page) -> list[dict]:
    page.get_by_role("radio", name=re.compile(r"All \d+ cards of this search")).check()
    page.locator("summary", has_text="Print & export").click()
    page.get_by_role("button", name="Export CSV with PINs").click()
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"Download \d+ cards?")).click()
    with open(download.value.path(), newline="") as handle:
        return list(csv.DictReader(handle))


def test_operator_generates_searches_and_exports(page, tree, shoot):
    login(page, "op")
    generate_in_browser(page)
    shoot(page, "series-detail")
    page.get_by_role("link", name="Show the cards").click()
    rows = page.locator("table.cards tbody tr")
    assert rows.count() == 12
    assert rows.first.locator(".status-label").inner_text() == "New"
    assert rows.first.locator("img[src$='status-new.svg']").count() == 1

    # Search by series and by status through the Advanced search form.
    page.goto("/cards/")
    page.get_by_text("Advanced search").click()
    page.get_by_label("Series code").fill("777")
    page.get_by_label("Status").select_option(label="New")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_test_id("total-count").inner_text() == "12"
    shoot(page, "card-list")
    page.get_by_label("Status").select_option(label="Activated")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_test_id("total-count").inner_text() == "0"
    assert "No cards match this search" in page.content()

    page.get_by_label("Status").select_option(label="New")
    page.get_by_role("button", name="Search").click()
    exported = export_search(page)
    assert len(exported) == 12
    assert all(len(row["pin"]) == 12 and row["amount"] == "15.00" for row in exported)
    assert {row["serial"] for row in exported} == set(
        Card.objects.filter(series__code="777").values_list("number", flat=True)
    )

    page.get_by_role("link", name="Back to the cards").click()
    page.get_by_role("link", name="Generate Top-Up Cards").click()
    page.get_by_label("PIN length").fill("7")
    page.get_by_role("button", name="Generate").click()
    assert page.locator(".field.has-error").count() >= 2  # amount, quantity, series, length
    shoot(page, "series-generate")


def test_operator_mass_edits_the_search_result(page, tree, shoot):
    generate(tree["operator"], tree["north"], quantity=6, code="888")
    generate(tree["operator"], tree["north"], quantity=2, code="889")
    login(page, "op")
    page.goto("/cards/?series=888")
    page.get_by_role("radio", name="All 6 cards of this search").check()
    page.locator("summary", has_text="Change").click()
    page.get_by_role("button", name="Mass Edit").click()
    assert page.get_by_test_id("changeable-count").inner_text() == "6"
    expiry = page.get_by_role("group", name="Expiry date")
    expiry.get_by_label("set to").check()
    page.get_by_label("New expiry date").fill("2031-06-30T18:00")
    page.get_by_role("group", name="Company").get_by_label("set to").check()
    page.get_by_label("New company").select_option(label="North Retail")
    shoot(page, "mass-edit")
    page.get_by_role("button", name="Process").click()
    page.get_by_text("6 cards changed.").wait_for()
    body = page.locator("table.cards tbody")
    assert body.locator("tr").count() == 6
    assert body.get_by_text("North Retail").count() == 6
    expiry = timezone.make_aware(datetime(2031, 6, 30, 18, 0))  # typed in the site's zone
    assert body.get_by_text(local_datetime(expiry)).count() == 6
    assert set(
        Card.objects.filter(series__code="889").values_list("reseller__name", flat=True)
    ) == {"North"}


def test_customer_redeems_an_exported_pin(page, tree, customer, shoot):
    series = SeriesFactory(code="990", reseller=tree["north"], amount=Decimal("12.50"))
    card, pin = make_card(series=series, number="990-00000001")
    login(page, customer.user.username)
    page.get_by_role("link", name="Payment Gateways").click()
    assert page.get_by_test_id("balance").inner_text() == "$5.00"
    shoot(page, "payment-gateways")
    page.get_by_label("PIN").fill(f"{pin[:4]} {pin[4:8]} {pin[8:]}")
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("$12.50 added to your balance. New balance: $17.50.").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "$17.50"
    shoot(page, "payment-gateways-success")

    page.get_by_role("link", name="Transactions").click()
    row = page.locator("tbody tr").first
    assert "Top-up card 990-00000001" in row.inner_text()
    assert "+$12.50" in row.inner_text()

    page.get_by_role("link", name="Payment Gateways").click()
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("This card was already credited to your account").wait_for()
    page.get_by_label("PIN").fill("000000000000")
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("This PIN cannot be used.").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "$17.50"
    page.get_by_role("link", name="Balance").click()
    assert page.get_by_test_id("balance").inner_text() == "$17.50"
    shoot(page, "balance")
    customer.refresh_from_db()
    assert customer.balance == Decimal("17.50")


def test_reseller_user_sees_only_its_subtree(page, tree, shoot):
    mine = generate(tree["operator"], tree["north_retail"], quantity=3, code="301")
    theirs = generate(tree["operator"], tree["south"], quantity=4, code="201")
    parent = generate(tree["operator"], tree["root"], quantity=2, code="001")
    login(page, "northuser")
    page.get_by_role("link", name="Top-up Cards", exact=True).click()
    numbers = set(page.locator("table.cards tbody tr td:nth-child(3)").all_inner_texts())
    assert numbers == set(Card.objects.filter(series=mine).values_list("number", flat=True))
    shoot(page, "card-list-reseller")
    for other in (theirs, parent):
        response = page.goto(f"/series/{other.pk}/")
        assert response.status == 404
    response = page.goto(f"/cards/?reseller={tree['south'].pk}")
    assert "no cards are shown" in page.content()
    assert page.goto(f"/series/{mine.pk}/").status == 200
    assert Series.objects.count() == 3
