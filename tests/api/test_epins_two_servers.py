"""50 simultaneous e-PIN sales through two server processes (gunicorn, two workers each).

The stock holds 30 cards and the product makes cards on demand: 50 requests give 50 distinct
PINs of 50 distinct cards (30 from the stock, 20 made), each redeemable once; a replay gives
the same PIN to the same key through either server, and another key with the same
Idempotency-Key gets its own sale.
"""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from api.models import IdempotencyRecord
from resellers.models import AuditEvent
from tests.api.test_api_concurrency import ROOT, _free_port, _wait_until_up
from tests.api.test_epins import new_key
from tests.databases import database_url
from tests.factories import AccountFactory, generate
from topup.models import Card, CardSale, EpinProduct
from topup.services import RedeemOutcome, card_redeem


def _start(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url(),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "2", "--threads", "8",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _sell(port: int, token: str, idempotency_key: str, barrier=None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/epins",
        data=json.dumps({"product": "usd10"}).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": idempotency_key,
            "Content-Type": "application/json",
        },
        method="POST",
    )
    if barrier is not None:
        barrier.wait(timeout=30)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def servers():
    ports = [_free_port(), _free_port()]
    processes = [_start(port) for port in ports]
    try:
        for port in ports:
            _wait_until_up(port)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_sales_through_two_servers(tree, servers):
    series = generate(tree["operator"], tree["north"], quantity=30, code="501")
    product = EpinProduct.objects.create(
        code="usd10", name="10 USD", amount=Decimal("10.00"), currency="USD",
        reseller=tree["root"], make_on_demand=True, series_code="E10",
        created_by=tree["operator"],
    )  # fmt: skip
    product.series.add(series)
    tokens = [new_key(tree) for _ in range(5)]
    barrier = threading.Barrier(50)
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(
                lambda i: _sell(servers[i % 2], tokens[i % 5], f"sale-{i}", barrier), range(50)
            )
        )
    assert [status for status, _ in answers] == [201] * 50, answers
    pins = {body["pin"] for _, body in answers}
    cards = {body["card"] for _, body in answers}
    assert len(pins) == 50 and len(cards) == 50
    assert len([c for c in cards if c.startswith("501-")]) == 30
    assert len([c for c in cards if c.startswith("E10-")]) == 20
    assert (
        CardSale.objects.count() == 50 and CardSale.objects.values("card").distinct().count() == 50
    )
    assert AuditEvent.objects.filter(action="epin.sold").count() == 50
    stored = json.dumps(list(IdempotencyRecord.objects.values_list("body", flat=True)))
    assert not any(pin in stored for pin in pins)

    # Replays: the same key through the other server gets the same PIN; another key with the
    # same Idempotency-Key gets its own sale (another card, another PIN), never the first PIN.
    for i in range(5):
        status, again = _sell(servers[(i + 1) % 2], tokens[i % 5], f"sale-{i}")
        assert status == 201 and again["pin"] == answers[i][1]["pin"]
        status, theirs = _sell(servers[i % 2], tokens[(i + 1) % 5], f"sale-{i}")
        assert status == 201 and theirs["pin"] not in pins and theirs["card"] not in cards
    # Ten simultaneous replays of one key and Idempotency-Key, on both servers: one sale.
    barrier = threading.Barrier(10)
    with ThreadPoolExecutor(max_workers=10) as pool:
        same = list(
            pool.map(lambda i: _sell(servers[i % 2], tokens[0], "once", barrier), range(10))
        )
    assert {body["pin"] for _, body in same} == {same[0][1]["pin"]} and same[0][0] == 201
    assert CardSale.objects.count() == 50 + 5 + 1

    # Each sold PIN redeems once, for a customer.
    account = AccountFactory(reseller=tree["north_retail"], currency="USD", user=None)
    for pin in pins:
        first = card_redeem(account=account, typed_pin=pin, client_address="192.0.2.9")
        again = card_redeem(account=account, typed_pin=pin, client_address="192.0.2.9")
        assert (first.outcome, again.outcome) == (RedeemOutcome.SUCCESS, RedeemOutcome.ALREADY)
    account.refresh_from_db()
    assert account.balance == Decimal("500.00")
    assert Card.objects.filter(number__in=cards, status="activated").count() == 50
