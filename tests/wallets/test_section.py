"""The Resellers section shows each billed company's wallet balance, credit limit and stock
value; the stock value read from the card summary equals the one priced from the cards."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from topup.models import Card
from wallets import services
from wallets.figures import stock_values
from wallets.models import Wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(tree):
    """North prepaid at 10 % (series 2 at 25 %), 1,000 USD limit, holding cards of every state."""
    op = tree["operator"]
    wallet = services.wallet_configure(
        actor=op, reseller=tree["north"], billing_mode="prepaid", discount=Decimal("10"),
        credit_limit=Decimal("1000"),
    )  # fmt: skip
    services.wallet_topup(wallet=wallet, amount=Decimal("250"), note="cash", by=op)
    one = factories.SeriesFactory(code="S1", reseller=tree["north"], amount=Decimal("10.00"))
    two = factories.SeriesFactory(code="S2", reseller=tree["north"], amount=Decimal("3.33"))
    services.series_discount_set(
        actor=op, reseller=tree["north"], series=two, discount=Decimal("25")
    )
    for n, status in enumerate(["new", "new", "blocked", "activated", "void", "in_stock"]):
        fields = {"status": status}
        if status == "activated":
            fields |= {
                "activated_by": factories.AccountFactory(reseller=tree["north"]),
                "activated_at": timezone.now(),
            }
        factories.make_card(series=one, number=f"S1-{n:08d}", **fields)
    for n in range(3):
        factories.make_card(series=two, number=f"S2-{n:08d}")
    # Blocked while still in stock: never released, so never paid for.
    factories.make_card(series=one, number="S1-99999999", status="in_stock")
    Card.objects.filter(number="S1-99999999").update(status="blocked")
    return Wallet.objects.get(pk=wallet.pk)


def test_the_summary_stock_value_equals_the_cards_priced_one_by_one(tree, billed):
    # Paid stock: 2 new + 1 blocked (released) of 10.00 at 10 % = 27.00; 3 of 3.33 at 25 %:
    # 2.4975 -> 2.50 each = 7.50. Activated, void, in stock and blocked-in-stock: none.
    assert services.stock_value(billed) == Decimal("34.50")
    values = stock_values([tree["north"].pk, tree["south"].pk, tree["root"].pk])
    assert values == {tree["north"].pk: (Decimal("34.50"), "USD")}


def test_the_tree_shows_balance_limit_and_stock_value(operator_client, tree, billed):
    page = operator_client.get(reverse("resellers:reseller-list")).content.decode()
    assert "Wallet balance" in page and "Credit limit" in page and "Stock value" in page
    assert "$250.00" in page and "$1,000.00" in page and "$34.50" in page


def test_the_figures_take_a_few_queries_whatever_the_tree(tree, billed):
    ids = [tree[name].pk for name in ("root", "north", "south", "north_retail")]
    with CaptureQueriesContext(connection) as queries:
        stock_values(ids)
    assert len(queries) == 4  # wallets, series discounts, summary, blocked in stock


def test_the_move_confirmation_totals_the_subtree(operator_client, tree, billed):
    response = operator_client.post(
        reverse("resellers:reseller-move", args=[tree["north"].pk]),
        {"parent": tree["south"].pk},
    )
    summary = dict(response.context["summary"])
    assert summary["Wallet balance"] == "$250.00"
    assert summary["Stock value"] == "$34.50"
