"""The operations API's writes raced, with real threads on PostgreSQL, against customers'
redemptions of the same cards: void, block and the mass edit through the API at the moment
the cards are redeemed. Checked card by card: each card credited at most once, to one account;
never voided or blocked once redeemed; a voided or blocked card never credited; every
balance equal to the sum of its ledger."""

import json
from decimal import Decimal

import pytest
from django.db.models import Count
from django.test import Client

from api import services
from billing.models import Transaction
from tests.api.conftest import redeem
from tests.factories import AccountFactory, SeriesFactory, make_card
from tests.topup.test_redemption import ledger_matches, run_in_threads
from topup.models import Card

pytestmark = pytest.mark.django_db(transaction=True)


def operate(token, path, body, idempotency_key):
    response = Client().post(
        f"/api/v1{path}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key},
    )
    return path, response.status_code, json.loads(response.content)


def customer(token, account, pin, idempotency_key):
    response = redeem(Client(), token, account, pin, idempotency_key)
    return "redeem", response.status_code, json.loads(response.content)


@pytest.mark.parametrize("round_", range(3))
def test_void_block_and_mass_edit_race_customers_redeeming_the_same_cards(tree, settings, round_):
    # The lockout is raced elsewhere: here the refused second customers must not lock out.
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = settings.REDEEM_ACCOUNT_FAILURES_LONG = 1000
    settings.REDEEM_API_KEY_FAILURES = 1000

    def make_key(*rights):
        return services.api_key_create(
            user=tree["operator"],
            name="race",
            reseller=tree["north"],
            networks=["127.0.0.0/8"],
            rights=list(rights),
        )[1]

    operations = make_key("void", "block", "edit")
    gateway = make_key()
    series = SeriesFactory(code="901", reseller=tree["north"], amount=Decimal("4.00"))
    cards = [make_card(series=series, number=f"901-{n:08d}") for n in range(1, 25)]
    accounts = [AccountFactory(reseller=tree["north"], user=None) for _ in range(4)]
    calls = [
        (operate, {"token": operations, "path": "/card-ranges/void",
                   "body": {"first": "901-00000001", "last": "901-00000008"},
                   "idempotency_key": "void"}),
        (operate, {"token": operations, "path": "/card-ranges/block",
                   "body": {"first": "901-00000009", "last": "901-00000016"},
                   "idempotency_key": "block"}),
        (operate, {"token": operations, "path": "/card-ranges/mass-edit",
                   "body": {"first": "901-00000017", "last": "901-00000024", "expiry": "set",
                            "expires_at": "2031-01-31T00:00:00Z"},
                   "idempotency_key": "edit"}),
    ]  # fmt: skip
    # Every card typed by two customers at once, the operations among them.
    for i, (_, pin) in enumerate(cards * 2):
        account = accounts[(i + i // len(cards)) % len(accounts)]  # two customers a card
        calls.append(
            (customer, {"token": gateway, "account": account.number, "pin": pin,
                        "idempotency_key": f"r{i}"})
        )  # fmt: skip
    answers = run_in_threads(calls)

    by_path = {path: (status, body) for path, status, body in answers if path != "redeem"}
    assert all(status == 200 for status, _ in by_path.values()), by_path
    redeemed = [(status, body) for path, status, body in answers if path == "redeem"]
    assert {status for status, _ in redeemed} <= {201, 422}
    credited_cards = [body["card"] for status, body in redeemed if status == 201]
    assert len(credited_cards) == len(set(credited_cards))  # each card credited at most once

    credits = dict(  # the ledger's rows per card ("topup.card:<id>")
        Transaction.objects.filter(kind="topup_card")
        .values("reference")
        .annotate(n=Count("pk"))
        .values_list("reference", "n")
    )
    edited = 0
    for card, _ in cards:
        card.refresh_from_db()
        number = int(card.number[-8:])
        if card.status == Card.Status.ACTIVATED:
            assert credits.get(f"topup.card:{card.pk}") == 1 and card.number in credited_cards
        else:
            assert f"topup.card:{card.pk}" not in credits and card.number not in credited_cards
            expected = "void" if number <= 8 else "blocked" if number <= 16 else "new"
            assert card.status == expected, (card.number, card.status)
        if number > 16 and card.expires_at is not None and card.expires_at.year == 2031:
            edited += 1
    # Every card of the edit range ends redeemed (the edit does not stop a redemption) and
    # the operations' counts add up with the redemptions that won the race.
    changed = {path: body["changed"] + body["skipped"] for path, (_, body) in by_path.items()}
    assert set(changed.values()) == {8}

    def activated_in(low, high):
        return sum(1 for n in credited_cards if low <= int(n[-8:]) <= high)

    assert by_path["/card-ranges/void"][1]["skipped"] == activated_in(1, 8)
    assert by_path["/card-ranges/block"][1]["skipped"] == activated_in(9, 16)
    assert activated_in(17, 24) == 8
    # The edit changed exactly the cards not yet redeemed when it locked them (a redeemed
    # card is never edited: the panel's rule), and they were redeemed after it.
    assert edited == by_path["/card-ranges/mass-edit"][1]["changed"]
    for account in accounts:
        assert ledger_matches(account)
    total = sum(account.balance for account in accounts)
    assert total == Decimal("4.00") * len(credited_cards)
