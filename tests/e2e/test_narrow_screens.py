"""Every main page at a phone's width (390 px) and a desktop's (1280 px): nothing wider than the
screen (wide tables scroll inside their own box), and a screenshot of each at both widths."""

import pytest

from tests.e2e.conftest import SCREENSHOTS, login
from tests.factories import AccountFactory, SeriesFactory, make_card

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": 1280, "phone": 390}
# What a page may add to the layout's own width: nothing.
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def shop(tree, customer):
    series = SeriesFactory(code="20261125", reseller=tree["north"], quantity=40, first_number=1)
    for n in range(1, 13):
        make_card(series=series, number=f"20261125-{n:08d}")
    AccountFactory(reseller=tree["north"], name="A customer with a rather long company name Ltd")
    return series


def staff_pages(series) -> dict[str, str]:
    return {
        "card-list": "/cards/?series=20261125&status=new",
        "series-list": "/series/",
        "series-detail": f"/series/{series.pk}/",
        "series-generate": "/series/new/",
        "mass-edit": "/cards/mass-edit/?series=20261125&apply_to=search",
    }


CUSTOMER_PAGES = {"payment-gateways": "/payment-gateways/", "balance": "/balance/"}


def visit(browser, live_server, username, pages) -> dict[tuple[str, str], int]:
    """Each page at each width: {(page, width name): pixels wider than the screen}."""
    found = {}
    for width_name, width in WIDTHS.items():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": 844}
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, username)
        for name, url in pages.items():
            page.goto(url)
            page.wait_for_load_state()
            found[(name, width_name)] = page.evaluate(OVERFLOW)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width_name}.png"), full_page=True)
        context.close()
    return found


def test_no_main_page_is_wider_than_a_phone(browser, live_server, shop, customer):
    overflow = visit(browser, live_server, "op", staff_pages(shop))
    overflow |= visit(browser, live_server, customer.user.username, CUSTOMER_PAGES)
    assert {key: px for key, px in overflow.items() if px > 0} == {}


def test_the_search_folds_on_a_phone_and_stays_open_on_a_desktop(browser, live_server, shop):
    for width, expect_open in [(390, False), (1280, True)]:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": 844}
        )
        page = context.new_page()
        login(page, "op")
        page.goto("/cards/?series=20261125")
        assert page.locator("details.search").evaluate("d => d.open") is expect_open
        chips = page.get_by_role("list", name="Active search")
        assert chips.get_by_text("Series code:").count() == 1
        context.close()
