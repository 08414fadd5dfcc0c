"""Redemptions per second through HTTP: the API and the web form, next to the service itself.

    bin/with-postgres .venv/bin/python bench/api.py [--cards 1600]

In one run: gunicorn (4 sync workers) on loopback serves 8 concurrent clients, each a process
with its own customer account and its own share of fresh, valid PINs; first through
POST /api/v1/redemptions (one API key, a fresh Idempotency-Key per request), then through the
customer's Payment Gateways form (signed in, CSRF token, POST, and the redirect it answers
with followed). Then the in-process service (`card_redeem`) in 4 processes. Every redemption
must succeed; latency is per request as the client sees it.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from common import report, setup_django
from redemption import LIMITS, measure, prepare, service_worker

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 8
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway bench user


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "4",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def api_client(port, token, number, pins, start, out):
    latencies = []
    start.wait()
    for i, pin in enumerate(pins):
        began = time.perf_counter()
        response, _ = _request(
            port, "POST", "/api/v1/redemptions",
            json.dumps({"account": number, "pin": pin}),
            {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{number}-{i}",
             "Content-Type": "application/json"},
        )  # fmt: skip
        latencies.append(time.perf_counter() - began)
        assert response.status == 201, response.status
    out.put(latencies)


def _cookies(response, jar):
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name] = rest.split(";", 1)[0]


def _cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def form_client(port, username, pins, start, out):
    jar = {}
    response, page = _request(port, "GET", "/login/")
    _cookies(response, jar)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    response, _ = _request(
        port, "POST", "/login/",
        urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}),
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar)},
    )  # fmt: skip
    assert response.status == 302, f"login failed: {response.status}"
    _cookies(response, jar)
    response, page = _request(
        port, "GET", "/payment-gateways/", headers={"Cookie": _cookie_header(jar)}
    )
    _cookies(response, jar)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    latencies = []
    start.wait()
    for pin in pins:
        began = time.perf_counter()
        response, _ = _request(
            port, "POST", "/payment-gateways/",
            urlencode({"pin": pin, "csrfmiddlewaretoken": token}),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar),
             "Referer": f"http://127.0.0.1:{port}/payment-gateways/"},
        )  # fmt: skip
        assert response.status == 302, response.status
        _cookies(response, jar)
        response, _ = _request(port, "GET", response.headers["Location"],
                               headers={"Cookie": _cookie_header(jar)})  # fmt: skip
        _cookies(response, jar)
        latencies.append(time.perf_counter() - began)
    out.put(latencies)


def run_clients(target, args_per_client) -> tuple[float, list[float]]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(args_per_client) + 1)
    out = ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args, start, out)) for args in args_per_client]
    for p in processes:
        p.start()
    start.wait()
    began = time.perf_counter()
    latencies = [value for _ in processes for value in out.get()]
    took = time.perf_counter() - began
    for p in processes:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a client failed (exit code {p.exitcode})")
    return took, latencies


def summary(cards, took, latencies) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{cards / took:6.0f}/s   p50 {statistics.median(ordered) * 1000:5.1f} ms"
        f"   p99 {p99 * 1000:5.1f} ms"
    )


def customers(accounts):
    """A signed-in user with the redeem right for each bench account."""
    from django.contrib.auth.models import Group

    from billing.models import Account
    from resellers.models import User
    from resellers.scoping import GROUP_CUSTOMERS

    names = []
    for i, pk in enumerate(accounts):
        User.objects.filter(username=f"bench-customer-{i}").delete()
        user = User.objects.create_user(f"bench-customer-{i}", password=PASSWORD)
        user.groups.add(Group.objects.get(name=GROUP_CUSTOMERS))
        Account.objects.filter(pk=pk).update(user=user)
        names.append(user.username)
    return names


def run(cards: int) -> None:
    from common import fixtures
    from django.db import connections

    from api import services as api_services
    from api.models import ApiKey
    from billing.models import Account

    fx = fixtures()
    ApiKey.objects.filter(name="bench").delete()
    _, token = api_services.api_key_create(
        user=fx["operator"], name="bench", reseller=fx["north"], networks=["127.0.0.1"]
    )
    connections.close_all()
    port = _free_port()
    server = start_gunicorn(port)
    rows, rates = [], {}
    try:
        accounts, shares = prepare(cards, CLIENTS)
        numbers = dict(Account.objects.filter(pk__in=accounts).values_list("pk", "number"))
        connections.close_all()
        took, latencies = run_clients(
            api_client,
            [(port, token, numbers[a], s) for a, s in zip(accounts, shares, strict=True)],
        )
        rates["api"] = cards / took
        rows.append(("API, gunicorn 4 workers, 8 clients", summary(cards, took, latencies)))

        accounts, shares = prepare(cards, CLIENTS)
        users = customers(accounts)
        connections.close_all()
        took, latencies = run_clients(
            form_client, [(port, u, s) for u, s in zip(users, shares, strict=True)]
        )
        rates["form"] = cards / took
        rows.append(("web form, same server and clients", summary(cards, took, latencies)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    accounts, shares = prepare(cards, 4)
    took = measure(service_worker, accounts, shares)
    rates["service"] = cards / took
    rows.append(("service in-process, 4 processes", f"{rates['service']:6.0f}/s"))
    rows.append(
        ("API / service", f"{rates['api'] / rates['service']:.2f} (target >= 0.5)"),
    )
    rows.append(("web form / service", f"{rates['form'] / rates['service']:.2f}"))
    report(f"Redemption of {cards:,} cards through HTTP and in-process", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1600)
    args = parser.parse_args()
    os.environ.update(LIMITS)
    os.environ["REDEEM_API_KEY_FAILURES"] = "1000000"
    setup_django()
    run(args.cards)
