import csv
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.e2e.conftest import login
from tests.factories import AccountFactory, SeriesFactory, make_card

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def months_ago(now, back: int) -> datetime:
    month = now.astimezone(UTC).date().replace(day=1)
    for _ in range(back):
        month = (month - timedelta(days=1)).replace(day=1)
    return datetime(month.year, month.month, 4, 10, tzinfo=UTC)


@pytest.fixture
def six_months(tree):
    """Six months of series in USD and EUR: redeemed over the last weeks, some expired."""
    rng = random.Random(6)
    now = timezone.now()
    buyers = {
        "USD": AccountFactory(reseller=tree["north"], currency="USD", name="Alice Adams"),
        "EUR": AccountFactory(reseller=tree["south"], currency="EUR", name="Bruno Brandt"),
    }
    n = 0
    for back in range(6, -1, -1):
        created = months_ago(now, back)
        for reseller, currency, amount in (
            (tree["north"], "USD", Decimal("10.00")),
            (tree["north_retail"], "USD", Decimal("5.00")),
            (tree["south"], "EUR", Decimal("20.00")),
        ):
            series = SeriesFactory(
                code=f"{currency[0]}{back}{reseller.pk}", reseller=reseller, currency=currency,
                amount=amount, expires_at=created + timedelta(days=rng.choice([90, 150, 400])),
            )  # fmt: skip
            for _ in range(10):
                n += 1
                fields = {"number": f"{series.code}-{n:08d}", "created_at": created}
                redeemed = created + timedelta(days=rng.randint(1, 120))
                if rng.random() < 0.5 and redeemed < now and redeemed < series.expires_at:
                    fields |= {"status": "activated", "activated_by": buyers[currency],
                               "activated_at": redeemed}  # fmt: skip
                elif rng.random() < 0.1:
                    fields["status"] = "blocked"
                make_card(series=series, **fields)
    for day in range(30):  # redemptions on most of the last 30 days
        series = SeriesFactory(code=f"D{day}", reseller=tree["north"], amount=Decimal("10.00"))
        for i in range(rng.randint(0, 4)):
            make_card(series=series, number=f"D{day}-{i:08d}", status="activated",
                      activated_by=buyers["USD"], activated_at=now - timedelta(days=day, hours=1),
                      created_at=now - timedelta(days=40))  # fmt: skip
    return tree


def test_operator_reads_home_and_liability_report(page, six_months, shoot, tmp_path):
    login(page, "op")
    page.get_by_role("heading", name="Home").wait_for()
    assert page.get_by_role("heading", name="Outstanding").is_visible()
    assert page.get_by_role("heading", name="Series closest to expiry").is_visible()
    assert page.locator("section.card table tbody tr").count() >= 1
    shoot(page, "home")

    page.get_by_role("link", name="Liability", exact=True).click()
    page.get_by_role("heading", name="Liability report").wait_for()
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    assert charts.first.get_attribute("aria-label") == "Redemptions per day, last 30 days"
    assert page.locator("svg.chart rect[height]").count() > 30
    shoot(page, "liability-report")

    page.get_by_label("Months").fill("3")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("table.report").first.locator("tbody tr")
    assert rows.count() == 6  # 3 months x 2 currencies
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert {line["currency"] for line in lines} == {"USD", "EUR"}
    assert {line["month"] for line in lines} <= {r["month"] for r in lines}


def test_the_report_fits_a_phone(page, six_months, shoot):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "northuser")
    page.goto("/reports/liability/")
    assert page.locator("svg.chart").count() == 2
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1
    assert "South" not in page.locator("main").inner_text()
    shoot(page, "liability-report-phone")
