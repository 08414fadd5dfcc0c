"""Each user in its own language, in a real browser: fields found by their translated labels.

The labels are computed from the catalogs (`translation.override(language)` around `gettext`),
so the test follows the translators' words: a Spanish-speaking operator generates and releases
a series; an Arabic-speaking customer (right-to-left) redeems a PIN and sees its balance
formatted for Arabic, on pages that never scroll sideways on a phone; a French series prints
its cards in French.
"""

import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext, pgettext

from locales import formats
from resellers.models import User
from tests.e2e.conftest import login
from tests.factories import SeriesFactory, generate, make_card
from topup.models import Card, Series
from topup.services.printing.sheets import DEFAULT_INSTRUCTION

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def in_language(language: str, text: str, **values) -> str:
    with translation.override(language):
        return gettext(text) % values if values else gettext(text)


def html_attributes(page) -> tuple[str, str]:
    return tuple(page.evaluate("[document.documentElement.lang, document.documentElement.dir]"))


def overflows(page) -> bool:
    """Whether the page scrolls sideways (something wider than the screen)."""
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def test_a_spanish_speaking_operator_generates_and_releases_a_series(page, tree, shoot):
    User.objects.filter(username="op").update(language="es")
    login(page, "op")
    assert html_attributes(page) == ("es", "ltr")

    def es(text: str, **values) -> str:
        return in_language("es", text, **values)

    page.goto("/series/new/")
    page.get_by_label(es("Amount")).fill("10.00")
    page.get_by_label(es("Quantity")).fill("30")
    page.get_by_label(es("Series"), exact=True).fill("555")
    page.get_by_label(es("Reseller"), exact=True).select_option(label="Root")
    expiry = (timezone.localtime() + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label(es("Expiry date")).fill(expiry)
    assert page.get_by_label(es("In stock")).is_checked()
    page.get_by_role("button", name=es("Generate"), exact=True).click()
    page.wait_for_load_state()
    assert Card.objects.filter(series__code="555", status="in_stock").count() == 30

    page.set_viewport_size(DESKTOP)
    page.goto("/cards/?series=555")
    assert html_attributes(page) == ("es", "ltr")
    shoot(page, "es-card-list-1280")
    with translation.override("es"):
        every = ngettext(
            "The %(shown)s card of this search", "All %(shown)s cards of this search", 30
        ) % {"shown": formats.number(30)}
        change = pgettext("menu of card actions", "Change")
        release = ngettext("Release %(shown)s card", "Release %(shown)s cards", 30) % {
            "shown": formats.number(30)
        }
    page.get_by_role("radio", name=every).check()
    page.locator("summary", has_text=change).click()
    page.get_by_role("button", name=es("Release"), exact=True).click()
    page.get_by_label(es("Move to reseller")).select_option(label="North")
    page.get_by_role("button", name=release).click()
    page.wait_for_load_state()
    assert (
        Card.objects.filter(series__code="555", status="new", reseller=tree["north"]).count() == 30
    )


def test_an_arabic_speaking_customer_redeems_right_to_left(page, tree, customer, shoot):
    User.objects.filter(pk=customer.user.pk).update(language="ar")
    series = SeriesFactory(code="990", reseller=tree["north"], amount=Decimal("12.50"))
    _card, pin = make_card(series=series, number="990-00000001")

    def ar(text: str) -> str:
        return in_language("ar", text)

    def ar_money(amount: str) -> str:
        with translation.override("ar"):
            return formats.money(Decimal(amount), "USD")

    page.set_viewport_size(PHONE)
    login(page, customer.user.username)  # lands on Payment Gateways
    assert html_attributes(page) == ("ar", "rtl")
    assert page.get_by_test_id("balance").inner_text() == ar_money("5.00")
    page.get_by_label(ar("PIN"), exact=True).fill(pin)
    page.get_by_role("button", name=ar("Redeem")).click()
    page.wait_for_load_state()
    assert page.get_by_test_id("balance").inner_text() == ar_money("17.50")
    customer.refresh_from_db()
    assert customer.balance == Decimal("17.50")
    assert not overflows(page)
    shoot(page, "ar-payment-gateways-390")

    for path in ("/balance/", "/transactions/", "/i18n/preferences/"):
        page.goto(path)
        assert html_attributes(page) == ("ar", "rtl")
        assert not overflows(page), f"{path} scrolls sideways at 390 px in Arabic"


def test_no_staff_page_scrolls_sideways_in_arabic(page, tree, customer):
    """Every page of the operator's navigation, and the first detail behind each list, at a
    phone's and a desktop's width, right-to-left."""
    series = SeriesFactory(code="20261201", reseller=tree["north"], quantity=3)
    for n in range(1, 4):
        make_card(series=series, number=f"20261201-{n:08d}")
    User.objects.filter(username="op").update(language="ar")
    login(page, "op")
    links = page.locator("nav[aria-label] a")
    paths = [links.nth(i).get_attribute("href") for i in range(links.count())]
    paths += ["/series/new/", f"/series/{series.pk}/", "/i18n/preferences/"]
    assert len(paths) > 8
    wide = []
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        for path in paths:
            page.goto(path)
            assert html_attributes(page)[1] == "rtl"
            if overflows(page):
                wide.append(f"{path} at {size['width']} px")
    assert wide == []


def test_a_french_series_prints_its_cards_in_french(page, tree, tmp_path):
    """The card is read by the end customer: the series' language, not the operator's."""
    expiry = timezone.now() + timedelta(days=365)
    series = generate(tree["operator"], tree["north"], quantity=4, code="601", expires_at=expiry)
    Series.objects.filter(pk=series.pk).update(language="fr")
    login(page, "op")  # an English-speaking operator
    page.goto("/cards/?series=601")
    page.get_by_role("radio", name="All 4 cards of this search").check()
    page.locator("summary", has_text="Print & export").click()
    page.get_by_role("button", name="Print", exact=True).click()
    assert page.get_by_label("Language printed on the cards").input_value() == "fr"
    with page.expect_download() as download:
        page.get_by_role("button", name="Make the PDF").click()
    pdf = tmp_path / "sheet-fr.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True).stdout
    flat = " ".join(text.decode().split())
    with translation.override("fr"):
        instruction = gettext(DEFAULT_INSTRUCTION)
        valid_until = gettext("Valid until %(day)s") % {"day": formats.local_date(expiry)}
        amount = formats.money(Decimal("10.00"), "USD")
    assert " ".join(instruction.split()) in flat
    assert valid_until in flat  # the date as French writes it: "6 déc. 2027"
    assert " ".join(amount.split()) in flat  # "10,00 $US"
