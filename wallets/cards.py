"""What card changes cost or give back: the bulk engine's postings to prepaid wallets."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import Wallet, WalletEntry
from .posting import ZERO, lock_wallets, post, refuse_short
from .pricing import CardGroup, PriceList

# The kinds the bulk engine posts, to prepaid wallets only.
CARD_KINDS = {
    WalletEntry.Kind.RELEASE,
    WalletEntry.Kind.MOVE_IN,
    WalletEntry.Kind.MOVE_OUT,
    WalletEntry.Kind.VOID,
    WalletEntry.Kind.DELETE,
}


@dataclass(frozen=True)
class CardMove:
    """Cards that move money for the reseller `reseller_id`: a debit (it pays for them) or a
    credit (it gets their price back), grouped by series and amount, in `currency`."""

    reseller_id: int
    currency: str
    kind: WalletEntry.Kind
    groups: tuple[CardGroup, ...]
    debit: bool


def _by_wallet(moves: Iterable[CardMove]) -> dict[int, list[CardMove]]:
    per_reseller: dict[int, list[CardMove]] = defaultdict(list)
    for move in moves:
        if move.kind not in CARD_KINDS:
            raise ValueError(f"Not a card posting: {move.kind}")
        per_reseller[move.reseller_id].append(move)
    return per_reseller


def _totals(wallet: Wallet, moves: list[CardMove]) -> dict[tuple, tuple[Decimal, int]]:
    """(kind, debit) -> (price of the cards, how many), at the wallet's prices now; cards of
    another currency than the wallet's were never charged to it and are left out."""
    prices = PriceList.of(wallet)
    totals: dict[tuple, tuple[Decimal, int]] = {}
    for move in moves:
        if move.currency != wallet.currency:
            continue
        cost, count = totals.get((move.kind, move.debit), (ZERO, 0))
        totals[(move.kind, move.debit)] = (
            cost + prices.total(move.groups),
            count + sum(group.count for group in move.groups),
        )
    return totals


def wallet_cards_check(*, moves: Iterable[CardMove]) -> None:
    """Refuse, before any card changes, what a prepaid reseller cannot pay for (WalletShort,
    naming the amount missing) or could never be charged (cards of another currency).
    Reads without locking: `wallet_cards_post` re-checks under the lock."""
    per_reseller = _by_wallet(moves)
    wallets = Wallet.objects.filter(
        reseller_id__in=per_reseller, billing_mode=Wallet.BillingMode.PREPAID
    ).select_related("reseller")
    for wallet in wallets:
        others = sorted(
            {m.currency for m in per_reseller[wallet.reseller_id] if m.currency != wallet.currency}
        )
        if others:
            raise ValidationError(
                _(
                    "%(reseller)s is billed in %(currency)s: it cannot receive cards in "
                    "%(others)s. Narrow the selection to %(currency)s cards."
                )
                % {"reseller": wallet.reseller, "currency": wallet.currency,
                   "others": ", ".join(others)}
            )  # fmt: skip
        totals = _totals(wallet, per_reseller[wallet.reseller_id])
        debits = sum((cost for (_kind, debit), (cost, _n) in totals.items() if debit), ZERO)
        if debits:
            refuse_short(wallet, debits)


def wallet_cards_post(
    *, moves: Iterable[CardMove], reference: str, by=None, limited: bool = True
) -> list[WalletEntry]:
    """Post what a chunk of card changes costs or gives back, inside the caller's transaction
    (the one that changed the cards): one entry per prepaid wallet, kind and direction, its
    reference `<reference>:<kind>:<wallet id>` (unique: a chunk never posts twice).

    Credits first, then debits; a debit past minus the credit limit raises WalletShort (the
    caller's transaction then rolls the cards back too). Wallets are locked in id order.
    """
    per_reseller = _by_wallet(moves)
    if not per_reseller:
        return []
    entries = []
    wallets = lock_wallets(reseller_id__in=per_reseller, billing_mode=Wallet.BillingMode.PREPAID)
    for wallet in wallets:
        totals = _totals(wallet, per_reseller[wallet.reseller_id])
        for (kind, debit), (cost, count) in sorted(totals.items(), key=lambda item: item[0][1]):
            if not cost:
                continue  # free cards (a 100 % discount) move no money
            if debit and limited:
                refuse_short(wallet, cost)
            entries.append(
                post(
                    wallet,
                    -cost if debit else cost,
                    kind=kind,
                    cards=count,
                    by=by,
                    reference=f"{reference}:{kind}:{wallet.pk}",
                )  # fmt: skip
            )
    return entries
