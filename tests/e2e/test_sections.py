"""The Resellers and Customers sections in a real browser, fields found by their labels."""

import re
from decimal import Decimal

import pytest

from billing.models import Account
from resellers.models import Reseller
from tests.e2e.conftest import login
from tests.factories import SeriesFactory, make_card

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def logout(page):
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()


def first_sign_in(page, username: str, temporary: str, new: str = "Own-pass-2026!") -> None:
    login(page, username, temporary)
    page.get_by_label("Old password").fill(temporary)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("New password confirmation").fill(new)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Your password has been changed.").wait_for()


def test_operator_builds_a_company_its_staff_and_a_customer_who_redeems(page, tree, shoot):
    login(page, "op")
    page.get_by_role("link", name="Resellers", exact=True).click()
    page.get_by_role("link", name="Add a company").click()
    page.get_by_label("Parent company").select_option(label="— North")
    page.get_by_label("Name", exact=True).fill("North Kiosk")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Add company").click()
    page.get_by_text("North Kiosk added under North.").wait_for()
    kiosk = Reseller.objects.get(name="North Kiosk")
    assert kiosk.parent == tree["north"]

    page.get_by_role("link", name="Add a staff user").click()
    assert page.get_by_label("Company").input_value() == str(kiosk.pk)
    page.get_by_label("Username").fill("kioskstaff")
    page.get_by_label("First name").fill("Kira")
    page.get_by_label("Role").select_option(label="Reseller users")
    page.get_by_role("button", name="Add user").click()
    staff_password = page.get_by_test_id("temporary-password").inner_text().strip()

    page.get_by_role("link", name="Customers", exact=True).click()
    page.get_by_role("link", name="Add a customer").click()
    page.get_by_label("Name", exact=True).fill("Kim Kiosk")
    page.get_by_label("Company").select_option(label="— — North Kiosk")
    page.get_by_label("Login username").fill("kim")
    page.get_by_role("button", name="Add customer").click()
    customer_password = page.get_by_test_id("temporary-password").inner_text().strip()
    account = Account.objects.get(name="Kim Kiosk")
    assert page.get_by_test_id("account-number").inner_text() == account.number
    assert account.currency == "USD"

    card, pin = make_card(
        series=SeriesFactory(code="K1", reseller=kiosk, amount=Decimal("12.00")), number="K1-1"
    )
    page.get_by_role("link", name="Resellers", exact=True).click()
    assert page.get_by_role("row", name=re.compile("North Kiosk")).get_by_text("new 1").count()
    shoot(page, "resellers")
    logout(page)

    # The customer signs in with its temporary password, chooses its own, redeems.
    first_sign_in(page, "kim", customer_password)
    page.get_by_role("link", name="Payment Gateways").click()
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("$12.00 added to your balance").wait_for()
    logout(page)

    # The kiosk's staff user sees only its subtree and cannot reach a sibling.
    first_sign_in(page, "kioskstaff", staff_password)
    page.get_by_role("link", name="Resellers", exact=True).click()
    tree_table = page.locator("table.tree")
    assert "North Kiosk" in tree_table.inner_text()
    for other in ("South", "North Retail", "Root"):
        assert other not in tree_table.inner_text()
    page.get_by_role("link", name="Staff users").click()
    page.get_by_role("link", name="Add a staff user").click()
    companies = page.get_by_label("Company").locator("option").all_inner_texts()
    assert [c.strip("— ") for c in companies if c.strip("-")] == ["North Kiosk"]
    response = page.goto(f"/resellers/{tree['south'].pk}/")
    assert response.status == 404
    logout(page)

    # A manual credit shows in the customer's ledger and balance.
    login(page, "op")
    page.get_by_role("link", name="Customers", exact=True).click()
    page.get_by_label("Search").fill("kim")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Kim Kiosk").click()
    page.get_by_role("link", name="Adjust the balance").click()
    page.get_by_label("Credit (add to the balance)").check()
    page.get_by_label("Amount").fill("5.00")
    page.get_by_label("Note").fill("Goodwill for the outage")
    page.get_by_role("button", name="Post adjustment").click()
    page.get_by_text("New balance: $17.00.").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "$17.00"
    assert page.get_by_role("row", name=re.compile("Goodwill for the outage")).count() == 1
    assert page.get_by_role("row", name=re.compile("Top-up card K1-1")).count() == 1
    shoot(page, "customer-account")

    # Moving the kiosk shows what moves before anything changes.
    page.goto(f"/resellers/{kiosk.pk}/")
    page.get_by_role("link", name="Move").click()
    page.get_by_label("New parent company").select_option(label="— South")
    page.get_by_role("button", name="Show what moves").click()
    summary = page.get_by_test_id("move-summary").inner_text()
    assert re.search(r"Customers\s+1", summary) and re.search(r"Cards\s+1", summary)
    shoot(page, "reseller-move")
    page.get_by_role("button", name="Move").click()
    page.get_by_text("North Kiosk moved under South").wait_for()
    kiosk.refresh_from_db()
    assert kiosk.path == f"{tree['south'].path}{kiosk.pk}/"
