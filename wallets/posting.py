"""The one posting: a locked wallet's balance moved and its entry written, and the refusal.

Every balance change of the app goes through `post` on a wallet locked by `lock_wallets`
(`select_for_update`, in id order): the balance moves by an in-database `F()` update and one
`WalletEntry` records it, in the caller's transaction, so the balance is the sum of entries.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils.translation import gettext as _

from locales.formats import money

from .models import Wallet, WalletEntry

ZERO = Decimal(0)


class WalletShort(ValidationError):
    """A refusable debit found too little: `missing` is what the balance and limit lack."""

    def __init__(self, wallet: Wallet, *, cost: Decimal, missing: Decimal):
        self.wallet, self.cost, self.missing = wallet, cost, missing
        super().__init__(
            _(
                "%(reseller)s cannot pay for this: it costs %(cost)s, and its wallet holds "
                "%(balance)s with a credit limit of %(limit)s. %(missing)s is missing: top "
                "the wallet up, raise its limit or choose fewer cards."
            )
            % {
                "reseller": wallet.reseller,
                "cost": money(cost, wallet.currency),
                "balance": money(wallet.balance, wallet.currency),
                "limit": money(wallet.credit_limit, wallet.currency),
                "missing": money(missing, wallet.currency),
            },
            code="wallet_short",
        )


def lock_wallets(**filters) -> list[Wallet]:
    """Wallets locked until commit, in id order (two postings never wait in a circle)."""
    return list(Wallet.objects.select_for_update().filter(**filters).order_by("pk"))


def post(wallet: Wallet, amount: Decimal, *, kind, reference, note="", by=None, cards=0):
    """Move a locked wallet's balance and write its entry; `wallet.balance` follows."""
    Wallet.objects.filter(pk=wallet.pk).update(balance=F("balance") + amount)
    wallet.balance += amount
    return WalletEntry.objects.create(
        wallet=wallet,
        amount=amount,
        balance_after=wallet.balance,
        kind=kind,
        cards=cards,
        reference=reference,
        note=note[:255],
        created_by=by,
    )


def refuse_short(wallet: Wallet, debit: Decimal) -> None:
    """WalletShort when taking `debit` (> 0) would pass minus the credit limit."""
    if wallet.balance - debit < -wallet.credit_limit:
        raise WalletShort(wallet, cost=debit, missing=debit - wallet.available)
