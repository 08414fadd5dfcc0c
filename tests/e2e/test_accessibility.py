"""axe-core on every page each role reaches, at a phone's and a desktop's width, light and dark.

The pages are found by walking the header's links and, from each, its page-head actions and the
first detail link of its results: a page added to the navigation is checked without naming it
here. axe-core is installed by `make axe` (bin/test's caller) into .axe/; it is evaluated
through the DevTools protocol, which the page's Content-Security-Policy does not block (no
inline script is added to the page). One browser page per role: the width and the colour
scheme change in place, so each page loads once.
"""

import os
from pathlib import Path

import pytest

from api.services import api_key_create
from tests.e2e.conftest import login
from tests.factories import SeriesFactory, make_card
from topup.models import Card
from topup.services import card_redeem

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (390, 1280)
SCHEMES = ("light", "dark")
# Screenshots of these pages when E2E_SCREENSHOTS_DIR is set (make screenshots).
SHOTS = {
    "/cards/": "card-list",
    "/series/": "series-list",
    "/audit-log/": "audit-log",
    "/payment-gateways/": "payment-gateways",
}
# Links that answer with a file, not a page.
NOT_PAGES = ("export", ".csv", ".svg", ".pdf", "download", "/admin/", "/logout/")

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 4)
    .map(n => n.target.join(" ") + " -- " + (n.failureSummary || "").replace(/\\s+/g, " "))
    .join(" | "));
}"""
OVERFLOW = "document.scrollingElement.scrollWidth - window.innerWidth"


@pytest.fixture
def panel(tree, customer):
    """Rows on every list, so each list has a first detail link to follow."""
    series = SeriesFactory(code="20261201", reseller=tree["north"], quantity=6, first_number=1)
    pins = [make_card(series=series, number=f"20261201-{n:08d}")[1] for n in range(1, 6)]
    make_card(series=series, number="20261201-00000006", status=Card.Status.BLOCKED)
    card_redeem(
        account=customer, typed_pin=pins[0], client_address="192.0.2.10", user=customer.user
    )
    card_redeem(
        account=customer, typed_pin="0" * 12, client_address="192.0.2.10", user=customer.user
    )
    api_key_create(
        user=tree["operator"], name="Shop till", reseller=tree["north"], networks=["192.0.2.0/24"]
    )
    return series


def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make axe` (make test does).")
    return AXE.read_text()


def reachable(page) -> list[str]:
    """The header's links, then each one's page-head actions and first result link."""
    page.goto("/")
    found = [page.evaluate("location.pathname")]
    found += page.locator("header a[href^='/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    for url in list(dict.fromkeys(found)):
        page.goto(url)
        found += page.locator(
            "main .page-head a[href^='/'], main table tbody tr:first-child a[href^='/']"
        ).evaluate_all("links => links.map(a => a.getAttribute('href'))")
    pages = [url.split("#")[0] for url in dict.fromkeys(found)]
    return [url for url in dict.fromkeys(pages) if not any(bad in url for bad in NOT_PAGES)]


def check_pages(page, urls: list[str], source: str, shots: str = "") -> tuple[dict, dict]:
    """{(url, width, scheme): [violations]} and {(url, scheme): overflow px at 390}; screenshots
    of the SHOTS pages into the folder `shots` if given."""
    violations, overflow = {}, {}
    for url in urls:
        page.goto(url)
        page.wait_for_load_state()
        page.evaluate(source)
        if page.locator("a.skip[href='#results']").count():
            assert page.locator("#results").count() == 1, f"{url}: Skip to results leads nowhere"
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 844})
            page.wait_for_timeout(150)  # app.js re-marks scrolling tables on resize (debounced)
            for scheme in SCHEMES:
                page.emulate_media(color_scheme=scheme)
                found = page.evaluate(RUN_AXE)
                if found:
                    violations[(url, width, scheme)] = found
                if width == 390:
                    overflow[(url, scheme)] = page.evaluate(OVERFLOW)
                if shots and url in SHOTS:
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    name = f"{SHOTS[url]}-{width}-{scheme}.png"
                    page.screenshot(path=str(Path(shots) / name), full_page=True)
    return violations, overflow


def open_menu_and_check(page, source: str, shots: str = "") -> list[str]:
    """At a phone's width the header is one Menu button; opened, the menu passes axe too."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    toggle = page.get_by_role("button", name="Menu")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not page.get_by_role("navigation", name="Main").is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.get_by_role("navigation", name="Main").is_visible()
    page.evaluate(source)
    found = []
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        found += page.evaluate(RUN_AXE)
        if shots:
            page.screenshot(path=str(Path(shots) / f"menu-390-{scheme}.png"))
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    return found


def test_every_page_of_every_role_passes_axe_at_both_widths_in_both_themes(
    browser, live_server, panel, tree, customer
):
    source = axe_source()
    violations, overflow, visited = {}, {}, {}
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.evaluate(source)
    if found := page.evaluate(RUN_AXE):
        violations[("/login/", 1280, "light")] = found
    for username in ("op", "northuser", customer.user.username):
        context.clear_cookies()
        page.set_viewport_size({"width": 1280, "height": 844})
        page.emulate_media(color_scheme="light")
        login(page, username)
        urls = reachable(page)
        visited[username] = urls
        # The screenshots are the operator's pages (it sees every action) and the customer's.
        shooting = username in ("op", customer.user.username)
        shots = os.environ.get("E2E_SCREENSHOTS_DIR", "") if shooting else ""
        found, wide = check_pages(page, urls, source, shots)
        violations |= {(username, *key): value for key, value in found.items()}
        overflow |= {(username, *key): px for key, px in wide.items() if px > 0}
        if menu := open_menu_and_check(page, source, shots if username == "op" else ""):
            violations[(username, "menu", 390)] = menu
    context.close()
    # The walk reached the sections of each role, not just a landing page.
    assert len(visited["op"]) >= 12 and "/cards/" in visited["op"]
    assert any(url.startswith("/cards/") and url != "/cards/" for url in visited["op"])
    assert len(visited["northuser"]) >= 6
    assert "/payment-gateways/" in visited[customer.user.username]
    report = "\n".join(f"{key}: {found}" for key, found in violations.items())
    assert violations == {}, report
    assert overflow == {}


def test_the_theme_is_chosen_in_the_header_and_kept_for_the_user(page, tree, panel):
    login(page, "op")
    page.goto("/series/")
    html = page.locator("html")
    assert html.get_attribute("data-theme") is None
    page.get_by_role("group", name="Theme").get_by_role("button", name="Dark").click()
    page.wait_for_load_state()
    assert page.url.endswith("/series/")
    assert html.get_attribute("data-theme") == "dark"
    background = "getComputedStyle(document.body).backgroundColor"
    assert page.evaluate(background) == "rgb(15, 20, 28)"
    page.emulate_media(color_scheme="light")
    assert page.evaluate(background) == "rgb(15, 20, 28)"
    tree["operator"].refresh_from_db()
    assert tree["operator"].theme == "dark"
    page.get_by_role("button", name="System").click()
    page.wait_for_load_state()
    assert html.get_attribute("data-theme") is None
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(background) == "rgb(15, 20, 28)"
    page.emulate_media(color_scheme="light")
    assert page.evaluate(background) == "rgb(244, 246, 250)"


def test_skip_to_results_reaches_the_first_card_in_three_tab_presses(page, panel):
    login(page, "op")
    page.goto("/cards/")
    page.keyboard.press("Tab")
    focused = "document.activeElement"
    assert page.evaluate(f"{focused}.textContent") == "Skip to results"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate(f"{focused}.getAttribute('aria-label')").startswith("Tick card ")
    # Focus shows: the checkbox draws an outline.
    assert page.evaluate(f"getComputedStyle({focused}).outlineStyle") == "solid"


def test_a_phone_sees_the_first_card_near_the_top_as_a_stacked_row(page, panel):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "op")
    page.goto("/cards/")
    first = page.locator("table.cards tbody tr").first
    box = first.bounding_box()
    assert box["y"] < 844, box
    assert box["width"] <= 390
    assert page.locator("table.cards tbody tr").first.get_by_text("North").is_visible()
    # The destructive actions sit in their own menu, not beside the safe ones.
    danger = page.locator("details.danger-zone")
    change = page.locator("details.menu", has_text="Change")
    change.locator("summary").click()
    assert change.get_by_role("button", name="Release").is_visible()
    assert change.get_by_role("button", name="Void").count() == 0
    danger.locator("summary").click()
    assert not change.get_by_role("button", name="Release").is_visible()
    assert danger.get_by_role("button", name="Void").is_visible()
    assert danger.get_by_role("link", name="Delete all").is_visible()
    assert first.locator(".c-amount").inner_text() == "$10.00"
