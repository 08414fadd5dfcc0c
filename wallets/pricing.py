"""What a card costs a reseller: the one home of the price rule.

    price = amount x (100 - discount) / 100, rounded to the currency's minor unit
            (ISO 4217 digits, from babel: JPY 0, USD 2, KWD 3), half up (ROUND_HALF_UP)

`discount` is the reseller's per-series discount when it has one for the card's series, else
its wallet's. Half up because it is what PostgreSQL's `round(numeric, digits)` does for the
positive amounts prices are, so the redemption statement (which prices a consignment card in
SQL, `PRICE_SQL`) and Python agree to the last digit; tests/wallets/test_pricing.py holds the
two together on the ties. A price is computed per card and then summed, never on a total.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision
from django.utils.translation import gettext_lazy as _

from .models import SeriesDiscount, Wallet

HUNDRED = Decimal(100)

# The same rule in SQL, for a statement with `amount`, the wallet `w` and the series
# discount `sd` (LEFT JOINed) in scope.
PRICE_SQL = "round({amount} * (100 - coalesce({sd}.discount, {w}.discount)) / 100, {w}.digits)"


def minor_digits(currency: str) -> int:
    """The currency's minor unit (ISO 4217): 0 for JPY, 2 for USD, 3 for KWD."""
    return get_currency_precision(currency)


def quantum(digits: int) -> Decimal:
    return Decimal(1).scaleb(-digits)


def card_price(amount: Decimal, discount: Decimal, digits: int) -> Decimal:
    """One card's price: its amount less the discount (percent), rounded half up."""
    if not isinstance(amount, Decimal) or not isinstance(discount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    return (amount * (HUNDRED - discount) / HUNDRED).quantize(quantum(digits), ROUND_HALF_UP)


@dataclass(frozen=True)
class CardGroup:
    """`count` cards of one series and amount (what a bulk chunk or a stock count groups by)."""

    series_id: int
    amount: Decimal
    count: int


@dataclass(frozen=True)
class PriceList:
    """A wallet's prices: its discount and its per-series overrides."""

    discount: Decimal
    digits: int
    per_series: dict[int, Decimal] = field(default_factory=dict)

    @classmethod
    def of(cls, wallet: Wallet) -> "PriceList":
        overrides = SeriesDiscount.objects.filter(reseller_id=wallet.reseller_id)
        return cls(
            discount=wallet.discount,
            digits=wallet.digits,
            per_series=dict(overrides.values_list("series_id", "discount")),
        )

    def discount_for(self, series_id: int) -> Decimal:
        return self.per_series.get(series_id, self.discount)

    def price(self, *, series_id: int, amount: Decimal) -> Decimal:
        return card_price(amount, self.discount_for(series_id), self.digits)

    def total(self, groups: Iterable[CardGroup]) -> Decimal:
        """The price of every card of the groups: per card, then summed."""
        return sum(
            (self.price(series_id=g.series_id, amount=g.amount) * g.count for g in groups),
            Decimal(0),
        )


BELOW_COST = _(
    "%(parent)s pays %(parent_discount)s %% less than the card's amount: a discount of "
    "%(discount)s %% would sell below its cost. Choose at most %(parent_discount)s %%."
)
BELOW_COST_ON_SERIES = _(
    "%(parent)s pays %(parent_discount)s %% less than the card's amount on series %(series)s: "
    "a discount of %(discount)s %% would sell below its cost. Choose at most "
    "%(parent_discount)s %%."
)


def below_cost_problem(
    *, reseller, discount: Decimal, series=None, parent_wallet: Wallet | None
) -> str | None:
    """Why `discount` (on `series`, or the reseller's own) is refused, or None.

    A sub-reseller's price is set by its parent within the parent's own price: its discount
    is at most the parent's (on that series) unless the parent's wallet may sell below cost.
    A child of the operator (no parent wallet) may get any discount from 0 to 100.
    """
    if parent_wallet is None or parent_wallet.may_sell_below_cost:
        return None
    prices = PriceList.of(parent_wallet)
    ceiling = prices.discount_for(series.pk) if series is not None else prices.discount
    if discount <= ceiling:
        return None
    message = BELOW_COST if series is None else BELOW_COST_ON_SERIES
    return message % {
        "parent": reseller.parent,
        "parent_discount": ceiling,
        "discount": discount,
        "series": series.code if series is not None else "",
    }
