"""Issue 29 in a real browser: a prepaid reseller's wallet pays for its releases and stops them
at balance + credit limit, and its statement shows what happened."""

import re
from decimal import Decimal

import pytest

from resellers.models import Reseller
from tests import factories
from tests.e2e.conftest import login
from topup.models import Card
from wallets.models import Wallet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def release_range(page, first: int, last: int, count: str) -> None:
    """Search the serial range of series 777 and open the release page for all of it."""
    page.goto("/cards/")
    page.get_by_text("Advanced search").click()
    page.get_by_label("Serial range from").fill(f"777-{first:08d}")
    page.get_by_label("Serial range to").fill(f"777-{last:08d}")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("radio", name=re.compile(rf"All {count} cards of this search")).check()
    page.locator("summary", has_text="Change").click()
    page.get_by_role("button", name="Release", exact=True).click()
    page.get_by_label("Move to reseller").select_option(label="North Telecom")


def test_a_prepaid_reseller_pays_for_its_releases_up_to_its_limit(page, tree, settings, shoot):
    settings.TOPUP_FOUR_EYES = False
    Reseller.objects.filter(pk=tree["north"].pk).update(name="North Telecom")
    factories.generate(
        tree["operator"], tree["root"], quantity=900, code="777", in_stock=True,
        amount=Decimal("10.00"),
    )  # fmt: skip

    # The operator makes North Telecom prepaid at 10 % with a 5,000 USD credit limit.
    login(page, "op")
    page.get_by_role("link", name="Resellers", exact=True).click()
    page.get_by_role("link", name="North Telecom", exact=True).click()
    page.get_by_role("link", name="Wallet", exact=True).click()
    page.get_by_role("link", name="Wallet settings").click()
    page.get_by_label("Prepaid").check()
    page.get_by_label("Discount (%)").fill("10")
    page.get_by_label("Credit limit").fill("5000")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Wallet settings of North Telecom saved.").wait_for()
    assert page.get_by_test_id("wallet-mode").inner_text().startswith("Prepaid")
    assert page.get_by_test_id("wallet-limit").inner_text() == "$5,000.00"

    # ... and tops its wallet up with 2,000 USD.
    page.get_by_role("link", name="Top up or adjust").click()
    page.get_by_label("Top-up (money received)").check()
    page.get_by_label("Amount").fill("2000")
    page.get_by_label("Note").fill("Bank transfer 4711")
    page.get_by_role("button", name="Post to the wallet").click()
    page.get_by_text("$2,000.00 posted to the wallet of North Telecom").wait_for()
    assert page.get_by_test_id("wallet-balance").inner_text() == "$2,000.00"

    # 300 cards of 10 USD at 10 % off: 2,700 USD, within 2,000 + 5,000: released.
    release_range(page, 1, 300, "300")
    page.get_by_role("button", name="Release 300 cards").click()
    page.get_by_text("300 cards released.").wait_for()
    wallet = Wallet.objects.get(reseller=tree["north"])
    assert wallet.balance == Decimal("-700.00")
    assert Card.objects.filter(reseller=tree["north"], status="new").count() == 300

    # 600 more: 5,400 USD against 4,300 available: refused, naming the 1,100 USD missing.
    release_range(page, 301, 900, "600")
    page.get_by_role("button", name="Release 600 cards").click()
    refusal = page.get_by_role("alert")
    refusal.wait_for()
    assert "$1,100.00 is missing" in refusal.inner_text(), refusal.inner_text()
    shoot(page, "wallet-release-refused")
    assert Card.objects.filter(reseller=tree["north"], status="new").count() == 300
    assert Card.objects.filter(status="in_stock").count() == 600
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("-700.00")

    # North's statement shows the top-up and the release, from 0 to -700.
    page.goto(f"/resellers/{tree['north'].pk}/wallet/")
    page.get_by_role("link", name="Statement", exact=True).click()
    rows = page.get_by_test_id("entry")
    assert rows.count() == 2
    assert "Bank transfer 4711" in rows.nth(0).inner_text()
    assert "$2,000.00" in rows.nth(0).inner_text()
    assert "-$2,700.00" in rows.nth(1).inner_text()
    assert "300 cards" in rows.nth(1).inner_text()
    assert page.get_by_test_id("opening-balance").inner_text() == "$0.00"
    assert page.get_by_test_id("closing-balance").inner_text() == "-$700.00"
    shoot(page, "wallet-statement")
