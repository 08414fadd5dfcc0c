"""The integrity checks an operator runs nightly and after a restore (`manage.py
integrity_check`): the card summary against a recount of the cards, every account's balance
against the sum of its ledger, every activated card against its one ledger row, and every
reseller's wallet against the sum of its entries.

All checks read one snapshot (a REPEATABLE READ, read-only transaction), so they hold on a
live database while redemptions go on: there should never be a difference.
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import CharField, Count, DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat

from billing.models import MONEY, Account, Transaction
from wallets.selectors import wallets_off_their_ledger

from ..models import Card
from .redemption.statement import LEDGER_REFERENCE
from .summary import SUMMARY_KEY, summary_differences


@dataclass(frozen=True)
class Difference:
    check: str  # "summary", "balance", "card ledger" or "wallet"
    detail: str


def integrity_differences() -> list[Difference]:
    """Every difference the checks find (see the module docstring); [] when none."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        wallets = [
            Difference("wallet", f"wallet of {name}: balance {balance}, entries sum to {total}")
            for name, balance, total in wallets_off_their_ledger()
        ]
        return [*_summary(), *_balances(), *_card_ledger(), *wallets]


def _summary() -> list[Difference]:
    found = []
    for d in summary_differences():
        key = ", ".join(f"{name}={value}" for name, value in zip(SUMMARY_KEY, d.key, strict=True))
        found.append(Difference("summary", f"{key}: summary {d.summary}, cards {d.cards}"))
    return found


def _balances() -> list[Difference]:
    money = DecimalField(**MONEY)
    ledger = (
        Transaction.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    wrong = (
        Account.objects.annotate(
            ledger=Coalesce(Subquery(ledger, output_field=money), Value(0, output_field=money))
        )
        .exclude(balance=F("ledger"))
        .order_by("pk")
        .values_list("number", "balance", "ledger")
    )
    return [
        Difference("balance", f"account {number}: balance {balance}, ledger sums to {total}")
        for number, balance, total in wrong
    ]


def _card_ledger() -> list[Difference]:
    reference = Concat(Value(LEDGER_REFERENCE), Cast("pk", CharField()))
    rows = (
        Transaction.objects.filter(reference=OuterRef("reference"))
        .order_by()
        .values("reference")
        .annotate(n=Count("pk"))
        .values("n")
    )
    cards = Card.objects.annotate(reference=reference).annotate(
        rows=Coalesce(Subquery(rows), Value(0))
    )
    found = [
        Difference("card ledger", f"card {number} is activated but has {n} ledger rows")
        for number, n in cards.filter(status=Card.Status.ACTIVATED)
        .exclude(rows=1)
        .order_by("pk")
        .values_list("number", "rows")
    ]
    found += [
        Difference("card ledger", f"card {number} is {status} but was credited {n} time(s)")
        for number, status, n in cards.exclude(status=Card.Status.ACTIVATED)
        .exclude(rows=0)
        .order_by("pk")
        .values_list("number", "status", "rows")
    ]
    return found
