"""The wallet figures of the Resellers section: balance, credit limit and stock value.

Registered from `WalletsConfig.ready` with `resellers.figures`. A reseller without a wallet
(not billed) shows a dash. Stock value is what the cards a reseller holds (released, neither
redeemed nor void: `PAID_STOCK`) cost at its prices now, read for the whole tree at once from
the card summary (`stock.paid_stock_of`) and priced by `pricing.PriceList`: a few queries
whatever the number of cards or companies.
"""

from collections import defaultdict
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from locales.formats import money
from resellers.figures import Figure

from .models import SeriesDiscount, Wallet
from .pricing import PriceList
from .stock import paid_stock_of

NOT_BILLED = "—"


def _wallets(reseller_ids: list[int]) -> list[Wallet]:
    return list(Wallet.objects.filter(reseller_id__in=reseller_ids).order_by("pk"))


def _per_reseller(reseller_ids, value) -> dict[int, str]:
    shown = {pk: NOT_BILLED for pk in reseller_ids}
    for wallet in _wallets(reseller_ids):
        shown[wallet.reseller_id] = money(value(wallet), wallet.currency)
    return shown


def _total(reseller_ids, value) -> str:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for wallet in _wallets(reseller_ids):
        sums[wallet.currency] += value(wallet)
    return ", ".join(money(sums[c], c) for c in sorted(sums)) or NOT_BILLED


def stock_values(reseller_ids: list[int]) -> dict[int, tuple[Decimal, str]]:
    """{reseller id: (stock value, currency)} for the billed resellers among the ids."""
    wallets = _wallets(reseller_ids)
    overrides: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for reseller_id, series_id, discount in SeriesDiscount.objects.filter(
        reseller_id__in=[w.reseller_id for w in wallets]
    ).values_list("reseller_id", "series_id", "discount"):
        overrides[reseller_id][series_id] = discount
    stock = paid_stock_of([w.reseller_id for w in wallets]) if wallets else {}
    values = {}
    for wallet in wallets:
        prices = PriceList(wallet.discount, wallet.digits, overrides[wallet.reseller_id])
        groups = stock.get((wallet.reseller_id, wallet.currency), [])
        values[wallet.reseller_id] = (prices.total(groups), wallet.currency)
    return values


def stock_per_reseller(reseller_ids: list[int]) -> dict[int, str]:
    shown = {pk: NOT_BILLED for pk in reseller_ids}
    for pk, (value, currency) in stock_values(reseller_ids).items():
        shown[pk] = money(value, currency)
    return shown


def stock_total(reseller_ids: list[int]) -> str:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for value, currency in stock_values(reseller_ids).values():
        sums[currency] += value
    return ", ".join(money(sums[c], c) for c in sorted(sums)) or NOT_BILLED


FIGURES = [
    Figure(
        _("Wallet balance"),
        lambda ids: _per_reseller(ids, lambda w: w.balance),
        lambda ids: _total(ids, lambda w: w.balance),
    ),
    Figure(
        _("Credit limit"),
        lambda ids: _per_reseller(ids, lambda w: w.credit_limit),
        lambda ids: _total(ids, lambda w: w.credit_limit),
    ),
    Figure(_("Stock value"), stock_per_reseller, stock_total),
]
