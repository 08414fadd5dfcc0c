"""The lockout at its limit under simultaneous right and wrong PINs, and credits that do not
queue behind a key's lock: real threads, each its own connection (an app server's), and two
real server processes, on PostgreSQL."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from api import services
from api.models import ApiKey
from api.selectors import api_key_and_account
from billing.models import Account, Transaction
from tests.api.test_api_concurrency import ROOT, _free_port, _wait_until_up, keys_of_north
from tests.factories import AccountFactory, SeriesFactory, make_card
from tests.topup.test_redemption import ledger_matches, run_in_threads
from topup.models import Card, RedemptionAttempt
from topup.pins import pin_service
from topup.services import card_redeem
from topup.services.redemption.statement import Redemption, lock_attempts

pytestmark = pytest.mark.django_db(transaction=True)
WRONG = "000000000000"


def api_call(key_pk, number, pin, idempotency_key):
    """`redemption_request` as the API view calls it; (status, started, ended)."""
    started = time.monotonic()
    key, account = api_key_and_account(ApiKey.objects.get(pk=key_pk).public_id, number)
    answer = services.redemption_request(
        key=key,
        account=account,
        account_number=number,
        pin=pin,
        idempotency_key=idempotency_key,
        client_address="127.0.0.1",
    )
    return answer.status, started, time.monotonic()


def http_call(port, token, number, pin, idempotency_key):
    """POST /api/v1/redemptions to a server process; (status, started, ended)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/redemptions",
        data=json.dumps({"account": number, "pin": pin}).encode(),
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key,
                 "Content-Type": "application/json"},
        method="POST",
    )  # fmt: skip
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, started, time.monotonic()


def _serve(port: int) -> subprocess.Popen:
    """An app server: gunicorn, one process of 8 threads, on the test database, with the
    limits of the test below."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or 'localhost'}"
            f":{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDEEM_API_KEY_FAILURES": "3",
        "REDEEM_ACCOUNT_FAILURES_SHORT": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1",
         "--worker-class", "gthread", "--threads", "8",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("servers", [False, True], ids=["threads", "two-server-processes"])
def test_fifty_calls_at_the_limit_evaluate_one_more_failure_for_the_key_and_the_account(
    tree, settings, keys, servers
):
    settings.REDEEM_API_KEY_FAILURES = 3
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 3
    (shared, shared_token), (other, other_token) = keys
    account = AccountFactory(reseller=tree["north"], user=None)
    # The account at limit - 1 (through the web page), the shared key at limit - 1 (through
    # two other accounts).
    for address in ("10.0.0.1", "10.0.0.2"):
        card_redeem(account=account, typed_pin=WRONG, client_address=address)
    for i in range(2):
        bystander = AccountFactory(reseller=tree["north"], user=None)
        assert api_call(shared.pk, bystander.number, WRONG, f"setup-{i}")[0] == 422
    series = SeriesFactory(code="201", reseller=tree["north"], amount=Decimal("3.00"))
    cards = [make_card(series=series) for _ in range(26)]
    customers = [AccountFactory(reseller=tree["north"], user=None) for _ in range(25)]
    calls, groups, ports = [], [], [_free_port(), _free_port()]
    for i in range(50):
        right = i % 4 < 2  # half right, half wrong, interleaved
        pin = cards.pop()[1] if right else WRONG
        if i % 2:  # the account at its limit, through a key with no failure
            target, key = account, other
        else:  # the key at its limit, for accounts with no failure
            target, key = customers[i // 2], shared
        call = {"number": target.number, "pin": pin, "idempotency_key": f"call-{i}"}
        if servers:  # half the calls to each server
            token = other_token if key == other else shared_token
            calls.append((http_call, {"port": ports[i % 4 // 2], "token": token, **call}))
        else:
            calls.append((api_call, {"key_pk": key.pk, **call}))
        groups.append(("account" if i % 2 else "key", right, pin))
    if servers:
        processes = [_serve(port) for port in ports]
        try:
            for port in ports:
                _wait_until_up(port)
            answers = run_in_threads(calls)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
    else:
        answers = run_in_threads(calls)

    for group in ("account", "key"):
        mine = [(a, right) for a, (g, right, _) in zip(answers, groups, strict=True) if g == group]
        wrong = sorted(status for (status, _, _), right in mine if not right)
        assert wrong == [422] + [429] * (len(wrong) - 1)  # exactly one more evaluated
        assert {status for (status, _, _), right in mine if right} <= {201, 429}
        # No right PIN was credited by a call that began after the lockout was seen.
        seen = min(ended for (status, _, ended), _ in mine if status == 429)
        assert all(started < seen for (status, started, _), _ in mine if status == 201)
    assert RedemptionAttempt.objects.filter(account=account, outcome="failed").count() == 3
    assert RedemptionAttempt.objects.filter(api_key=shared.public_id, outcome="failed").count() == 3
    assert not RedemptionAttempt.objects.filter(reason="reserved").exists()
    # Every right PIN answered 201 was credited exactly once, to its account; the others not.
    credited = 0
    for (status, _, _), (_, right, pin), (_, call) in zip(answers, groups, calls, strict=True):
        if not right:
            continue
        card = Card.objects.get(pin_digest__in=pin_service.digests(pin))
        if status == 201:
            credited += 1
            assert card.status == Card.Status.ACTIVATED
            assert card.activated_by.number == call["number"]
            assert Transaction.objects.filter(reference=f"topup.card:{card.pk}").count() == 1
        else:
            assert card.status == Card.Status.NEW
    assert Transaction.objects.filter(kind="topup_card").count() == credited
    everyone = Account.objects.filter(pk__in=[account.pk, *(c.pk for c in customers)])
    assert all(ledger_matches(a) for a in everyone)
    assert everyone.aggregate(s=Sum("balance"))["s"] == Decimal("3.00") * credited
    # Locked out now: a right PIN is refused unread, for the account and through the key.
    last = make_card(series=series)[1]
    assert api_call(other.pk, account.number, last, "after-1")[0] == 429
    assert api_call(shared.pk, customers[0].number, last, "after-2")[0] == 429


@pytest.fixture
def keys(tree):
    """Two keys of North ("node 0" and "node 1") and their tokens."""
    tokens = keys_of_north(tree, 2)
    return [(ApiKey.objects.get(name=f"node {i}"), token) for i, token in enumerate(tokens)]


def test_credits_of_a_key_with_failures_do_not_wait_for_its_lock(tree, settings, keys):
    """A key with failures well below its limit: while another call holds the key's attempt
    lock (a failure being counted), credits of other accounts through the key complete."""
    settings.REDEEM_API_KEY_FAILURES = 100
    key = keys[0][0]
    for i in range(3):
        bystander = AccountFactory(reseller=tree["north"], user=None)
        assert api_call(key.pk, bystander.number, WRONG, f"typo-{i}")[0] == 422
    series = SeriesFactory(code="202", reseller=tree["north"], amount=Decimal("1.00"))
    pins = [make_card(series=series)[1] for _ in range(8)]
    accounts = [AccountFactory(reseller=tree["north"], user=None) for _ in range(8)]
    counting = AccountFactory(reseller=tree["north"], user=None)
    holding, release = threading.Event(), threading.Event()

    def hold_the_keys_lock():
        with transaction.atomic():
            lock_attempts(
                Redemption(
                    account=counting,
                    digests=None,
                    owners=[],
                    address="127.0.0.1",
                    network="127.0.0.1",
                    api_key=key.public_id,
                )
            )
            holding.set()
            release.wait(30)
        connection.close()

    holder = threading.Thread(target=hold_the_keys_lock)
    holder.start()
    try:
        assert holding.wait(10)
        answers = []
        crediting = threading.Thread(
            target=lambda: answers.extend(
                run_in_threads(
                    [
                        (
                            api_call,
                            {
                                "key_pk": key.pk,
                                "number": a.number,
                                "pin": pin,
                                "idempotency_key": f"credit-{i}",
                            },
                        )  # fmt: skip
                        for i, (a, pin) in enumerate(zip(accounts, pins, strict=True))
                    ]
                )
            )
        )
        crediting.start()
        crediting.join(20)
        assert not crediting.is_alive(), "the credits queued behind the key's lock"
        assert not release.is_set()  # all of them completed while the lock was held
    finally:
        release.set()
        holder.join()
    assert [status for status, _, _ in answers] == [201] * 8
    assert all(ledger_matches(a) for a in accounts)
