"""Wallets under concurrency, real threads on PostgreSQL: never below minus the limit, every
card paid exactly once, the balance always the sum of the ledger."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from tests.factories import AccountFactory, generate
from tests.topup.test_redemption import run_in_threads
from tests.topup.test_release import pins_of
from tests.wallets.conftest import bill
from topup import services
from topup.models import Card
from topup.selectors import cards_for_selection
from wallets.models import Wallet, WalletEntry
from wallets.services import WalletShort, wallet_topup

D = Decimal


def attempt(fn, **kwargs):
    """The call's result, or the refusal it raised (a refusal is an outcome here)."""
    try:
        return fn(**kwargs)
    except WalletShort as refused:
        return refused


def release_call(tree, code, background):
    operator = tree["operator"]
    selection = {"search": f"series={code}"}
    return (
        attempt,
        {
            "fn": services.cards_release,
            "user": operator,
            "cards": cards_for_selection(operator, selection),
            "selection": selection,
            "reseller": tree["north"],
            "background": background,
        },
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", range(3))
def test_prepaid_releases_racing_topups_never_pass_the_limit_and_pay_each_card_once(
    tree, settings, rounds
):
    settings.TOPUP_BULK_CHUNK_SIZE = 4  # many chunks: the top-ups land between them
    limit = D("50")
    w = bill(tree, discount=D("10"), credit_limit=limit)
    wallet_topup(wallet=w, amount=D("100"), note="opening", by=tree["operator"])
    for code in ("A", "B"):  # 24 cards of 10.00 each: 216.00 a release at North's price
        generate(tree["operator"], tree["root"], quantity=24, code=code, in_stock=True)
    topups = [
        (wallet_topup, {"wallet": w, "amount": D("40"), "note": f"wire {i}",
                        "by": tree["operator"]})
        for i in range(6)
    ]  # fmt: skip
    run_in_threads([release_call(tree, "A", False), release_call(tree, "B", True), *topups])

    w.refresh_from_db()
    entries = list(w.entries.order_by("pk"))
    # Entries are written under the wallet's lock: in pk order they are its balance's history.
    running = D(0)
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running
        assert entry.balance_after >= -limit
    assert w.balance == running == w.entries.aggregate(s=Sum("amount"))["s"]
    released = Card.objects.filter(status="new", reseller=tree["north"]).count()
    paid = [e for e in entries if e.kind == "release"]
    assert sum(e.cards for e in paid) == released
    assert sum(e.amount for e in paid) == -D("9.00") * released
    assert len({e.reference for e in entries}) == len(entries)
    # The foreground release is all or nothing; the cards nobody paid for stayed in stock.
    assert Card.objects.filter(series__code="A", status="new").count() in (0, 24)
    assert Card.objects.filter(status="in_stock").count() == 48 - released
    assert D("340") - released * D("9") == w.balance  # 100 + 6 x 40, less what was released


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_consignment_redemptions_post_fifty_rows_one_per_card(tree, settings):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 10_000
    settings.REDEEM_ACCOUNT_FAILURES_LONG = 10_000
    settings.REDEEM_ADDRESS_FAILURES = 10_000
    bill(tree, billing_mode="consignment", discount=D("15"))
    series = generate(tree["operator"], tree["north"], quantity=50, code="C", amount=D("3.33"))
    pins = list(pins_of(series.cards.all()).values())
    accounts = [AccountFactory(reseller=tree["north_retail"]) for _ in range(10)]

    def redeem(i, pin):
        return (
            services.card_redeem,
            {"account": accounts[i % 10], "typed_pin": pin, "client_address": f"10.7.{i}.1"},
        )

    first = run_in_threads([redeem(i, pin) for i, pin in enumerate(pins)])
    # Each PIN again, from another account, while no other redemption is left to race.
    again = run_in_threads([redeem(i + 1, pin) for i, pin in enumerate(pins[:25])])
    assert [r.outcome for r in first] == ["success"] * 50
    assert {r.outcome for r in again} == {"failed"}

    w = Wallet.objects.get(reseller=tree["north"])
    rows = WalletEntry.objects.filter(wallet=w, kind="redemption")
    activated = set(Card.objects.filter(status="activated").values_list("pk", flat=True))
    assert rows.count() == 50 == len(activated)
    assert set(rows.values_list("reference", flat=True)) == {f"card:{pk}" for pk in activated}
    assert set(rows.values_list("amount", flat=True)) == {D("-2.83")}  # 3.33 less 15 %: 2.8305
    assert w.balance == D("-141.50") == rows.aggregate(s=Sum("amount"))["s"]
