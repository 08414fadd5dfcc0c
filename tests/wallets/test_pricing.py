"""The price rule: amount less discount, the currency's minor unit, half up; and its bounds."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from tests.factories import SeriesFactory
from tests.wallets.conftest import bill
from wallets.models import Wallet
from wallets.pricing import PRICE_SQL, CardGroup, PriceList, card_price, minor_digits
from wallets.services import series_discount_set

D = Decimal


@pytest.mark.parametrize(
    ("currency", "amount", "discount", "price"),
    [
        ("USD", "10.00", "10", "9.00"),
        ("USD", "0.05", "50", "0.03"),  # 0.025: half up, not to even (0.02)
        ("USD", "0.15", "50", "0.08"),  # 0.075 -> 0.08 (half even would give 0.08 too)
        ("JPY", "1001", "50", "501"),  # 500.5 -> 501: no minor unit
        ("JPY", "999", "12.5", "874"),  # 874.125
        ("KWD", "1.25", "33.3", "0.834"),  # 0.83375 -> three digits
        ("KWD", "0.01", "95", "0.001"),  # 0.0005 -> 0.001
        ("USD", "10.00", "100", "0.00"),
    ],
)
def test_price_is_amount_less_discount_in_the_minor_unit_half_up(currency, amount, discount, price):
    assert card_price(D(amount), D(discount), minor_digits(currency)) == D(price)
    assert str(card_price(D(amount), D(discount), minor_digits(currency))) == price


def test_minor_units_follow_iso_4217():
    assert (minor_digits("JPY"), minor_digits("USD"), minor_digits("KWD")) == (0, 2, 3)


def test_money_is_never_a_float():
    with pytest.raises(TypeError):
        card_price(10.0, D("10"), 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "discount", "digits"),
    [("0.05", "50", 2), ("1001", "50", 0), ("1.25", "33.3", 3), ("0.01", "95", 3),
     ("7.77", "33.33", 2), ("0.15", "50", 2)],
)  # fmt: skip
def test_sql_prices_exactly_as_python(amount, discount, digits):
    """The redemption statement prices in SQL: it must agree on every tie."""
    sql = PRICE_SQL.format(amount="%s::numeric", sd="sd", w="w")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql} FROM (SELECT %s::numeric AS discount, %s AS digits) AS w"
            " LEFT JOIN (SELECT NULL::numeric AS discount) AS sd ON true",
            [amount, discount, digits],
        )
        assert cursor.fetchone()[0] == card_price(D(amount), D(discount), digits)


def test_a_total_prices_each_card_then_sums():
    prices = PriceList(discount=D("50"), digits=2, per_series={7: D("20")})
    # 0.05 at 50 % is 0.03 a card (not 0.025 x 3 = 0.075 -> 0.08 on the total)
    assert prices.total([CardGroup(1, D("0.05"), 3)]) == D("0.09")
    assert prices.total([CardGroup(7, D("10"), 2), CardGroup(1, D("10"), 1)]) == D("21.00")


@pytest.mark.django_db
def test_a_sub_reseller_is_priced_within_its_parents_price(tree):
    bill(tree, "north", discount=D("10"))
    with pytest.raises(ValidationError) as refused:
        bill(tree, "north_retail", discount=D("12"))
    assert "at most 10" in str(refused.value.message_dict["discount"])
    assert not Wallet.objects.filter(reseller=tree["north_retail"]).exists()
    retail = bill(tree, "north_retail", discount=D("10"))
    assert retail.discount == D("10")


@pytest.mark.django_db
def test_a_parent_allowed_to_sell_below_cost_may(tree):
    bill(tree, "north", discount=D("10"), may_sell_below_cost=True)
    assert bill(tree, "north_retail", discount=D("25")).discount == D("25")


@pytest.mark.django_db
def test_a_series_discount_is_bounded_by_the_parents_on_that_series(tree):
    series = SeriesFactory(code="77", reseller=tree["root"])
    bill(tree, "north", discount=D("10"))
    bill(tree, "north_retail", discount=D("5"))
    series_discount_set(actor=tree["operator"], reseller=tree["north"], series=series,
                        discount=D("20"))  # fmt: skip
    # North pays 20 % less on series 77: its child may get up to 20 % there, not above.
    series_discount_set(actor=tree["operator"], reseller=tree["north_retail"], series=series,
                        discount=D("20"))  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        series_discount_set(actor=tree["operator"], reseller=tree["north_retail"],
                            series=series, discount=D("21"))  # fmt: skip
    assert "series 77" in str(refused.value)
    prices = PriceList.of(Wallet.objects.get(reseller=tree["north_retail"]))
    assert prices.price(series_id=series.pk, amount=D("10")) == D("8.00")
    assert prices.price(series_id=series.pk + 1000, amount=D("10")) == D("9.50")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad",
    [
        {"discount": D("100.5")},
        {"discount": D("-1")},
        {"discount": D("1.234")},
        {"credit_limit": D("-5")},
        {"credit_limit": D("1.001")},
        {"billing_mode": "barter"},
    ],
)
def test_bad_billing_is_refused_by_field_and_changes_nothing(tree, bad):
    with pytest.raises(ValidationError) as refused:
        bill(tree, **bad)
    assert set(refused.value.message_dict) == set(bad)
    assert not Wallet.objects.filter(reseller=tree["north"]).exists()
