"""The API's credit without the key's lock (`card_redeem` with a key) raced, with real threads on
PostgreSQL, against everything that touches the same account, card, key or idempotency key:
failures of the same account and key, the web page's locked redemption of the same card, and
one idempotency key sent with two different requests at once. End states are checked row by
row: one credit per card, failures counted exactly, balance equal to the ledger, no error."""

import json
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.test import Client

from billing.models import Account, Transaction
from tests.api.conftest import error_body, redeem
from tests.api.test_api_concurrency import keys_of_north
from tests.factories import AccountFactory, SeriesFactory, make_card
from tests.topup.test_redemption import ledger_matches, run_in_threads
from topup.models import Card, RedemptionAttempt
from topup.services import card_redeem

pytestmark = pytest.mark.django_db(transaction=True)


def post(token, account, pin, idempotency_key):
    response = redeem(Client(), token, account, pin, idempotency_key)
    return response.status_code, json.loads(response.content)


def web(account_id, pin, address):
    account = Account.objects.select_related("reseller").get(pk=account_id)
    return card_redeem(account=account, typed_pin=pin, client_address=address).outcome


def test_a_credit_races_failures_of_its_account_and_key_and_the_web_page(tree, settings):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = settings.REDEEM_ACCOUNT_FAILURES_LONG = 1000
    settings.REDEEM_API_KEY_FAILURES = 1000
    (token,) = keys_of_north(tree, 1)
    series = SeriesFactory(code="103", reseller=tree["north"], amount=Decimal("7.00"))
    cards = [make_card(series=series) for _ in range(3)]
    account = AccountFactory(reseller=tree["north"], user=None)
    calls = []
    for i in range(24):
        card, pin = cards[i % 3]
        if i % 4 == 3:  # the same cards typed on the web page (locks first, then the card)
            calls.append((web, {"account_id": account.pk, "pin": pin, "address": "10.9.0.1"}))
        else:
            calls.append((post, {"token": token, "account": account.number, "pin": pin,
                                 "idempotency_key": f"valid-{i}"}))  # fmt: skip
    for i in range(8):
        calls.append((post, {"token": token, "account": account.number,
                             "pin": "000000000000", "idempotency_key": f"wrong-{i}"}))  # fmt: skip
    answers = run_in_threads(calls)

    api_answers = [a for a in answers if isinstance(a, tuple)]
    credits = sum(1 for status, _ in api_answers if status == 201)
    credits += sum(1 for outcome in answers if outcome == "success")
    assert credits == 3  # each card exactly once, by whichever path won it
    assert {status for status, _ in api_answers} <= {201, 200, 422}
    assert (
        sorted(body["status"] for status, body in api_answers if status == 422) == ["refused"] * 8
    )
    for card, _ in cards:
        card.refresh_from_db()
        assert (card.status, card.activated_by_id) == ("activated", account.pk)
    assert Transaction.objects.filter(kind="topup_card", account=account).count() == 3
    assert ledger_matches(account)
    assert account.balance == Decimal("21.00")
    # Failures were counted once each, on the locked path: the eight wrong PINs.
    assert RedemptionAttempt.objects.filter(outcome="failed").count() == 8
    assert RedemptionAttempt.objects.filter(outcome="success").count() == 3


def test_one_idempotency_key_sent_with_two_requests_at_once_credits_one_of_them(tree):
    (token,) = keys_of_north(tree, 1)
    series = SeriesFactory(code="104", reseller=tree["north"], amount=Decimal("3.00"))
    (card_a, pin_a), (card_b, pin_b) = make_card(series=series), make_card(series=series)
    account = AccountFactory(reseller=tree["north"], user=None)
    calls = [
        (
            post,
            {
                "token": token,
                "account": account.number,
                "pin": pin_a if i % 2 else pin_b,
                "idempotency_key": "shared",
            },
        )  # fmt: skip
        for i in range(16)
    ]
    answers = run_in_threads(calls)

    card_a.refresh_from_db()
    card_b.refresh_from_db()
    credited = [c for c in (card_a, card_b) if c.status == Card.Status.ACTIVATED]
    assert len(credited) == 1  # the key's one answer is for one request only
    winner_pin = pin_a if credited[0] == card_a else pin_b
    first = next(body for status, body in answers if status == 201)
    for (status, body), (_, call) in zip(answers, calls, strict=True):
        if call["pin"] == winner_pin:
            assert (status, body) == (201, first)  # the first answer, replayed
        else:
            assert (status, body) == (409, error_body("idempotency_key_reused"))
    assert Transaction.objects.filter(kind="topup_card").count() == 1
    assert ledger_matches(account)
    assert not RedemptionAttempt.objects.filter(outcome="failed").exists()


def test_the_key_lockout_stays_exact_while_credits_pass_without_its_lock(tree, settings):
    settings.REDEEM_API_KEY_FAILURES = 3
    (token,) = keys_of_north(tree, 1)
    series = SeriesFactory(code="105", reseller=tree["north"], amount=Decimal("2.00"))
    cards = [make_card(series=series) for _ in range(6)]
    accounts = [AccountFactory(reseller=tree["north"], user=None) for _ in range(16)]
    calls = []
    for i, account in enumerate(accounts):
        pin = cards[i][1] if i < len(cards) else "000000000000"
        calls.append((post, {"token": token, "account": account.number, "pin": pin,
                             "idempotency_key": f"k{i}"}))  # fmt: skip
    answers = run_in_threads(calls)

    statuses = [status for status, _ in answers]
    assert set(statuses) <= {201, 422, 429}
    assert statuses.count(422) == 3  # exactly the key's limit was evaluated and refused
    assert RedemptionAttempt.objects.filter(outcome="failed").count() == 3
    # A valid PIN credits, or is refused with a wait once the key is locked out; never lost.
    credited = Card.objects.filter(status=Card.Status.ACTIVATED).count()
    assert credited == statuses.count(201)
    total = Account.objects.filter(pk__in=[a.pk for a in accounts]).aggregate(s=Sum("balance"))
    assert total["s"] == Decimal("2.00") * credited
    assert all(ledger_matches(account) for account in accounts)


def test_the_credit_without_the_keys_lock_takes_the_account_before_the_card(tree):
    """The lock order of the web page and the locked way (account, then card): a credit that
    waits for its account holds nothing of the card meanwhile, so the two never deadlock."""
    series = SeriesFactory(code="106", reseller=tree["north"], amount=Decimal("4.00"))
    card, pin = make_card(series=series)
    account = AccountFactory(reseller=tree["north"], user=None)
    holding, release, results = threading.Event(), threading.Event(), []

    def hold_account():
        with transaction.atomic():
            Account.objects.select_for_update().get(pk=account.pk)
            holding.set()
            release.wait(10)
        connection.close()

    def credit():
        mine = Account.objects.select_related("reseller").get(pk=account.pk)
        results.append(
            card_redeem(account=mine, typed_pin=pin, client_address="127.0.0.1", api_key="k")
        )
        connection.close()

    holder = threading.Thread(target=hold_account)
    holder.start()
    assert holding.wait(10)
    crediting = threading.Thread(target=credit)
    crediting.start()
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:  # until the credit waits for a lock
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the credit never waited for the account")
    with transaction.atomic():  # the card is free meanwhile
        Card.objects.select_for_update(nowait=True).get(pk=card.pk)
    release.set()
    holder.join()
    crediting.join()
    assert results[0].outcome == "success"
    assert ledger_matches(account)
