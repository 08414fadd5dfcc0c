"""The cards a reseller holds and has paid for, as groups to price, told by the cards' app.

`topup` owns the cards and sits above this app (it posts through `wallets.services`), so it
registers the one reader from its `AppConfig.ready`, the way apps add figures to the Resellers
section: `paid_stock(reseller_id, currency)` -> [CardGroup]: the released cards of that
reseller that are neither activated nor void (new, expired or blocked), in that currency.
"""

from collections.abc import Callable

from .pricing import CardGroup

StockReader = Callable[[int, str], list[CardGroup]]
_reader: list[StockReader] = []


def register(reader: StockReader) -> None:
    _reader[:] = [reader]


def paid_stock(reseller_id: int, currency: str) -> list[CardGroup]:
    """The reseller's released, unredeemed, not void cards in `currency`, grouped to price."""
    if not _reader:
        raise RuntimeError("No stock reader registered (topup registers it when it loads).")
    return _reader[0](reseller_id, currency)


# Every billed reseller's stock at once, for the Resellers section: read from the card summary
# (constant time at tens of millions of cards), the same cards as `paid_stock`.
# (reseller ids) -> {(reseller id, currency): [CardGroup]}
StockOfMany = Callable[[list[int]], dict[tuple[int, str], list[CardGroup]]]
_many: list[StockOfMany] = []


def register_many(reader: StockOfMany) -> None:
    _many[:] = [reader]


def paid_stock_of(reseller_ids: list[int]) -> dict[tuple[int, str], list[CardGroup]]:
    if not _many:
        raise RuntimeError("No stock reader registered (topup registers it when it loads).")
    return _many[0](reseller_ids)
