"""Reads of wallets: what an integrity check compares."""

from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import WALLET_MONEY, Wallet, WalletEntry


def wallets_off_their_ledger() -> list[tuple[str, object, object]]:
    """(reseller, balance, sum of entries) of every wallet whose balance is not the sum of
    its entries: there should never be one."""
    money = DecimalField(**WALLET_MONEY)
    ledger = (
        WalletEntry.objects.filter(wallet=OuterRef("pk"))
        .order_by()
        .values("wallet")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return list(
        Wallet.objects.annotate(
            ledger=Coalesce(Subquery(ledger, output_field=money), Value(0, output_field=money))
        )
        .exclude(balance=F("ledger"))
        .order_by("pk")
        .values_list("reseller__name", "balance", "ledger")
    )
