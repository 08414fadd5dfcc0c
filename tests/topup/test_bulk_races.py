"""Bulk actions racing redemptions and each other, with real threads on PostgreSQL.

Whichever commits first wins, card by card: either the card is activated and credited once and
the bulk action skips it (counted), or the action applies and the redemption is refused.
"""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from billing.models import Account, Transaction
from tests.factories import AccountFactory, ResellerFactory, SeriesFactory, make_card
from tests.topup.test_redemption import run_in_threads
from topup import services
from topup.models import Card
from topup.selectors import cards_for_selection

ROUNDS = 3
CARDS = 40


def deal(tree, code: str):
    """A series of 40 new cards in north with known PINs, and 10 customers who may redeem them."""
    series = SeriesFactory(code=code, reseller=tree["north"], amount=Decimal("10.00"))
    cards = [make_card(series=series, number=f"{code}-{n:08d}") for n in range(1, CARDS + 1)]
    accounts = [AccountFactory(reseller=tree["north_retail"], currency="USD") for _ in range(10)]
    return series, cards, accounts


def race(tree, code, bulk, settings):
    """40 redemptions of the series' cards and one bulk action on `series=<code>`, at once.

    Yields (card, the card now or None, its owner and expiry before) for the caller's checks,
    after the checks every action shares; the last ones run once the caller has seen every card.
    """
    settings.TOPUP_BULK_CHUNK_SIZE = 6  # several chunks, so redemptions land between them
    series, cards, accounts = deal(tree, code)
    before = {card.pk: (card.reseller_id, card.expires_at) for card, _ in cards}

    def act():
        operator = tree["operator"]
        selection = {"search": f"series={code}"}
        return bulk(
            user=operator, cards=cards_for_selection(operator, selection), selection=selection
        )

    calls = [(act, {})] + [
        (
            services.card_redeem,
            {"account": accounts[i % 10], "typed_pin": pin, "client_address": f"10.9.{i}.1"},
        )
        for i, (_, pin) in enumerate(cards)
    ]
    result, *redeemed = run_in_threads(calls)
    assert result.changed + result.skipped == CARDS
    credits = dict(
        Transaction.objects.filter(kind="topup_card")
        .values("reference")
        .annotate(n=Count("pk"))
        .values_list("reference", "n")
    )
    activated = 0
    for (card, _), outcome, i in zip(cards, redeemed, range(CARDS), strict=True):
        after = Card.objects.filter(pk=card.pk).first()
        credited = credits.get(f"topup.card:{card.pk}", 0)
        if after is not None and after.status == "activated":
            activated += 1
            # Activated, credited once, to the winner, and never touched by the bulk action.
            assert outcome.outcome == "success"
            assert after.activated_by_id == accounts[i % 10].pk
            assert credited == 1
            assert (after.reseller_id, after.expires_at) == before[card.pk]
        else:
            assert outcome.outcome == "failed"
            assert credited == 0
        yield card, after, before[card.pk]
    assert result.skipped == activated
    for account in accounts:
        account.refresh_from_db()
        total = account.transactions.aggregate(s=Sum("amount"))["s"] or Decimal("0")
        assert account.balance == total
    assert (
        Account.objects.filter(pk__in=[a.pk for a in accounts]).aggregate(s=Sum("balance"))["s"]
        == Decimal("10.00") * activated
    )


@pytest.mark.django_db(transaction=True)
def test_blocking_a_series_by_search_while_40_of_its_cards_are_redeemed(tree, settings):
    block = services.MassEdit(status_mode="block")
    for round_ in range(ROUNDS):
        for card, after, _ in race(
            tree,
            f"B{round_}",
            lambda **kw: services.cards_mass_update(edit=block, **kw),
            settings,
        ):
            assert after is not None
            assert after.status in ("activated", "blocked"), card.number


@pytest.mark.django_db(transaction=True)
def test_setting_the_company_of_a_series_while_its_cards_are_redeemed(tree, settings):
    later = timezone.now().replace(microsecond=0) + timedelta(days=400)
    # West is not an owner the customers may redeem from: an edited card is refused. (It works
    # in the cards' currency: a company of another currency is refused up front.)
    west = ResellerFactory(name="West", currency="USD", parent=tree["root"])
    move = services.MassEdit(
        reseller_mode="set", reseller=west, expiry_mode="set", expires_at=later
    )
    for round_ in range(ROUNDS):
        for card, after, _ in race(
            tree,
            f"C{round_}",
            lambda **kw: services.cards_mass_update(edit=move, **kw),
            settings,
        ):
            if after.status != "activated":
                assert (after.status, after.reseller_id, after.expires_at) == (
                    "new",
                    west.pk,
                    later,
                ), card.number


@pytest.mark.django_db(transaction=True)
def test_deleting_a_series_while_its_cards_are_redeemed(tree, settings):
    for round_ in range(ROUNDS):
        for card, after, _ in race(tree, f"D{round_}", services.cards_delete, settings):
            assert after is None or after.status == "activated", card.number
    # Every activated card is still there; everything else of the series is gone.
    assert not Card.objects.exclude(status="activated").exists()


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_mass_edits_both_finish_and_never_mix(tree, settings):
    settings.TOPUP_BULK_CHUNK_SIZE = 15
    series = SeriesFactory(code="O", reseller=tree["north"])
    ids = [make_card(series=series, number=f"O-{n:08d}")[0].pk for n in range(1, 121)]
    soon = timezone.now().replace(microsecond=0) + timedelta(days=10)
    later = soon + timedelta(days=10)
    edits = {
        # The first moves the whole series; the second the last 80 cards, ticked.
        "series": (
            services.MassEdit(reseller_mode="set", reseller=tree["north_retail"],
                              expiry_mode="set", expires_at=soon),
            {"search": "series=O"},
        ),
        "ticked": (
            services.MassEdit(reseller_mode="set", reseller=tree["root"],
                              expiry_mode="set", expires_at=later),
            {"cards": ids[40:]},
        ),
    }  # fmt: skip
    operator = tree["operator"]

    def edit(name):
        action, selection = edits[name]
        return services.cards_mass_update(
            user=operator,
            cards=cards_for_selection(operator, selection),
            edit=action,
            selection=selection,
        )

    for _ in range(ROUNDS):
        first, second = run_in_threads([(edit, {"name": "series"}), (edit, {"name": "ticked"})])
        assert (first.changed, first.skipped, second.changed, second.skipped) == (120, 0, 80, 0)
        after = dict(Card.objects.values_list("pk", "reseller_id"))
        expiry = dict(Card.objects.values_list("pk", "expires_at"))
        assert {(after[pk], expiry[pk]) for pk in ids[:40]} == {(tree["north_retail"].pk, soon)}
        # The overlap got one edit whole, the same one for every card: they were serialised.
        overlap = {(after[pk], expiry[pk]) for pk in ids[40:]}
        assert overlap in ({(tree["north_retail"].pk, soon)}, {(tree["root"].pk, later)})


@pytest.mark.django_db(transaction=True)
def test_a_bulk_action_that_cannot_get_its_locks_says_so_and_changes_nothing(
    tree, settings, client, monkeypatch
):
    """A lock held too long: retried, then a clear message on the form, never a 500."""
    settings.TOPUP_BULK_RETRIES = 2
    monkeypatch.setattr(services.bulk.chunks.ChunkStatement, "LOCK_TIMEOUT", "100ms")
    series = SeriesFactory(code="L", reseller=tree["north"])
    cards = [make_card(series=series, number=f"L-{n:08d}")[0] for n in range(1, 6)]
    holding, release = threading.Event(), threading.Event()

    def hold_a_lock():
        try:
            with transaction.atomic():
                list(Card.objects.select_for_update().filter(pk=cards[3].pk))
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_a_lock)
    holder.start()
    try:
        assert holding.wait(10)
        client.force_login(tree["operator"])
        response = client.post(
            reverse("topup:card-mass-edit") + "?series=L&apply_to=search",
            {"expiry_mode": "clear", "reseller_mode": "preserve", "status_mode": "block"},
        )
    finally:
        release.set()
        holder.join()
    assert response.status_code == 200
    assert "kept colliding with this action; nothing was changed" in response.content.decode()
    assert set(Card.objects.values_list("status", "expires_at")) == {("new", series.expires_at)}
