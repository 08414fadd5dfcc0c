"""The liability report separates the outstanding stock paid by resellers (prepaid) from the
stock on consignment; what neither holds belongs to companies that are not billed."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from tests import factories
from topup import reports
from wallets import services

pytestmark = pytest.mark.django_db


def bill(tree, reseller, mode):
    services.wallet_configure(
        actor=tree["operator"], reseller=reseller, billing_mode=mode, discount=Decimal("0"),
        credit_limit=Decimal("0"),
    )  # fmt: skip


@pytest.fixture
def stock(tree):
    """North (prepaid) holds 3 new cards of 10 USD, South (consignment) 2 of 20 EUR, the root
    (not billed) 1 of 5 USD."""
    for reseller, code, amount, count in (
        (tree["north"], "N", "10.00", 3),
        (tree["south"], "S", "20.00", 2),
        (tree["root"], "R", "5.00", 1),
    ):
        series = factories.SeriesFactory(
            code=code, reseller=reseller, amount=Decimal(amount), currency=reseller.currency
        )
        for n in range(count):
            factories.make_card(series=series, number=f"{code}-{n:08d}")
    bill(tree, tree["north"], "prepaid")
    bill(tree, tree["south"], "consignment")
    return tree


def test_outstanding_is_split_by_billing_mode(stock):
    report = reports.liability_report(stock["operator"], months=1)
    rows = {(row.reseller.name, row.currency): row for row in report.by_reseller}
    north, south, root = rows[("North", "USD")], rows[("South", "EUR")], rows[("Root", "USD")]
    assert (north.outstanding, north.outstanding_prepaid, north.outstanding_consignment) == (
        Decimal("30.00"), Decimal("30.00"), 0,
    )  # fmt: skip
    assert (south.outstanding, south.outstanding_prepaid, south.outstanding_consignment) == (
        Decimal("40.00"), 0, Decimal("40.00"),
    )  # fmt: skip
    assert (root.outstanding, root.outstanding_prepaid, root.outstanding_consignment) == (
        Decimal("5.00"), 0, 0,
    )  # fmt: skip
    totals = {row.currency: row for row in report.totals}
    assert totals["USD"].outstanding == Decimal("35.00")
    assert totals["USD"].outstanding_prepaid == Decimal("30.00")
    assert totals["EUR"].outstanding_consignment == Decimal("40.00")


def test_the_page_and_the_csv_show_the_split(operator_client, stock):
    page = operator_client.get(reverse("topup:liability-report"), {"months": 1})
    html = page.content.decode()
    assert "Of which paid by resellers (prepaid)" in html and "Of which on consignment" in html
    response = operator_client.get(reverse("topup:liability-report-csv"), {"months": 1})
    body = b"".join(response.streaming_content).decode()
    lines = list(csv.DictReader(io.StringIO(body)))
    north = next(line for line in lines if line["reseller"] == "North")
    assert Decimal(north["outstanding prepaid"]) == Decimal("30.00")
    assert Decimal(north["outstanding on consignment"]) == 0
