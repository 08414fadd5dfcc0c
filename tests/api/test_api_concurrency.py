"""Concurrency through the API on PostgreSQL: real threads, and real server processes."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from api import services
from billing.models import Account, Transaction
from tests.api.conftest import error_body, redeem
from tests.databases import database_url
from tests.factories import AccountFactory, SeriesFactory, make_card
from tests.topup.test_redemption import run_in_threads
from topup.models import Card, RedemptionAttempt

ROOT = Path(__file__).resolve().parents[2]


def keys_of_north(tree, count):
    return [
        services.api_key_create(
            user=tree["operator"], name=f"node {i}", reseller=tree["north"], networks=["127.0.0.1"]
        )[1]
        for i in range(count)
    ]


def post(token, account, pin, idempotency_key):
    response = redeem(Client(), token, account, pin, idempotency_key)
    return response.status_code, response.content


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_api_redemptions_of_one_pin_by_fifty_accounts_credit_once(tree):
    # Five gateways (keys), ten accounts each: the requests race on the card row itself.
    tokens = keys_of_north(tree, 5)
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("10.00"))
    card, pin = make_card(series=series)
    accounts = [AccountFactory(reseller=tree["north"], user=None) for _ in range(50)]
    answers = run_in_threads(
        [
            (
                post,
                {
                    "token": tokens[i % 5],
                    "account": a.number,
                    "pin": pin,
                    "idempotency_key": f"x{i}",
                },
            )
            for i, a in enumerate(accounts)
        ]
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [422] * 49
    refusals = {body for status, body in answers if status == 422}
    assert len(refusals) == 1 and json.loads(refusals.pop()) == error_body("refused")
    card.refresh_from_db()
    winner = next(a for a, (status, _) in zip(accounts, answers, strict=True) if status == 201)
    assert card.status == "activated" and card.activated_by_id == winner.pk
    assert Transaction.objects.filter(kind="topup_card").count() == 1
    for account in Account.objects.filter(pk__in=[a.pk for a in accounts]):
        expected = Decimal("10.00") if account.pk == winner.pk else Decimal("0.00")
        assert account.balance == expected
    assert RedemptionAttempt.objects.filter(outcome="failed").count() == 49


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_requests_with_one_idempotency_key_credit_once_alike(tree):
    (token,) = keys_of_north(tree, 1)
    series = SeriesFactory(code="102", reseller=tree["north"], amount=Decimal("5.00"))
    card, pin = make_card(series=series)
    account = AccountFactory(reseller=tree["north"], user=None)
    answers = run_in_threads(
        [
            (
                post,
                {"token": token, "account": account.number, "pin": pin, "idempotency_key": "once"},
            )
            for _ in range(20)
        ]
    )
    assert len(set(answers)) == 1
    status, body = answers[0]
    assert status == 201 and json.loads(body)["balance"] == "5.00"
    account.refresh_from_db()
    assert account.balance == Decimal("5.00")
    assert Transaction.objects.filter(account=account).count() == 1
    assert RedemptionAttempt.objects.count() == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url(),
        "REDEEM_API_KEY_FAILURES": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the server on port {port} did not start")


def _http_redeem(port, token, account, idempotency_key) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/redemptions",
        data=json.dumps({"account": account, "pin": "000000000000"}).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": idempotency_key,
            "Content-Type": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True)
def test_the_lockout_per_key_holds_across_two_server_processes(tree):
    """Wrong PINs for ten different accounts (no account reaches its own limit), sent at once
    to two server processes: the key's limit of 3 lets exactly 3 be evaluated."""
    (token,) = keys_of_north(tree, 1)
    accounts = [AccountFactory(reseller=tree["north"], user=None).number for _ in range(10)]
    ports = [_free_port(), _free_port()]
    servers = [_start_server(port) for port in ports]
    try:
        for port in ports:
            _wait_until_up(port)
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(
                pool.map(
                    lambda i: _http_redeem(ports[i % 2], token, accounts[i], f"k{i}"),
                    range(10),
                )
            )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    assert sorted(statuses) == [422] * 3 + [429] * 7
    assert RedemptionAttempt.objects.filter(outcome="failed").count() == 3
    assert Card.objects.count() == 0
