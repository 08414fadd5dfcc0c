"""Redemptions per second through HTTP: the API and the web form, next to the service itself.

    bin/with-postgres .venv/bin/python bench/api.py [--cards 1600] [--rounds 3]
        [--worker-class gthread|sync]

Each round: gunicorn (4 workers, gthread with four threads each by default, as the README
deploys it: connections kept alive) on loopback serves 8 concurrent clients, each a process
with its own customer account and its own share of fresh, valid PINs; first through
POST /api/v1/redemptions (one API key for all, a fresh Idempotency-Key per request), then
through the customer's Payment Gateways form (signed in, CSRF token, POST, and the redirect
it answers with followed). Then the in-process service (`card_redeem`) in 4 processes. Every
redemption must succeed; latency is per request as the client sees it. The ratios are taken
within each round (the machine's speed drifts between rounds) and their median is reported.
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
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from common import report, setup_django
from redemption import LIMITS, measure, prepare, service_worker

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 8
SERVER_LOG = Path(tempfile.gettempdir()) / "topup-bench-api-server.log"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway bench user


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, worker_class: str = "gthread", threads: int = 4) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "4",
         "--worker-class", worker_class, "--threads", str(threads),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        # Logging as in production: one line per API call (into a scratch file here).
        cwd=ROOT, env={**os.environ, "LOG_LEVEL": "INFO"}, stderr=SERVER_LOG.open("ab"),
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
    raise SystemExit(f"gunicorn did not start (see {SERVER_LOG})")


class Client:
    """A lean HTTP/1.1 client for load generation: requests written as bytes on one socket,
    kept alive while the server allows it, responses read by Content-Length. The clients
    share the server's two cores, so every microsecond they spend is taken from it
    (`http.client` parses each response's headers with the email package, about three times
    the cost)."""

    def __init__(self, port: int):
        self.port = port
        self.sock = None
        self.buffer = b""

    def connect(self):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            self.buffer = b""

    def request(self, method, path, body=b"", headers=None):
        """(status, headers as a list of (lower-case name, value), body)."""
        if isinstance(body, str):
            body = body.encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        head.append(f"Content-Length: {len(body)}")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        self.connect()
        self.sock.sendall(payload)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields.append((name.strip().lower(), value.strip()))
        length = int(next((v for n, v in fields if n == "content-length"), "0"))
        while len(self.buffer) < length:
            self._fill()
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        if ("connection", "close") in fields:
            self.close()
        return status, fields, data

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-response")
        self.buffer += chunk

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def api_client(port, token, number, pins, start, out):
    client = Client(port)
    latencies = []
    start.wait()
    for i, pin in enumerate(pins):
        began = time.perf_counter()
        status, _, _ = client.request(
            "POST", "/api/v1/redemptions",
            json.dumps({"account": number, "pin": pin}),
            {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{number}-{i}",
             "Content-Type": "application/json"},
        )  # fmt: skip
        latencies.append(time.perf_counter() - began)
        assert status == 201, status
    client.close()
    out.put(latencies)


def _cookies(fields, jar):
    for name, value in fields:
        if name == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key] = rest.split(";", 1)[0]


def _cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _header(fields, wanted):
    return next(value for name, value in fields if name == wanted)


def form_client(port, username, pins, start, out):
    client = Client(port)
    jar = {}
    _, fields, page = client.request("GET", "/login/")
    _cookies(fields, jar)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    status, fields, _ = client.request(
        "POST", "/login/",
        urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}),
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar)},
    )  # fmt: skip
    assert status == 302, f"login failed: {status}"
    _cookies(fields, jar)
    _, fields, page = client.request(
        "GET", "/payment-gateways/", headers={"Cookie": _cookie_header(jar)}
    )
    _cookies(fields, jar)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    latencies = []
    start.wait()
    for pin in pins:
        began = time.perf_counter()
        status, fields, _ = client.request(
            "POST", "/payment-gateways/",
            urlencode({"pin": pin, "csrfmiddlewaretoken": token}),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar),
             "Referer": f"http://127.0.0.1:{port}/payment-gateways/"},
        )  # fmt: skip
        assert status == 302, status
        _cookies(fields, jar)
        _, fields, _ = client.request(
            "GET", _header(fields, "location"), headers={"Cookie": _cookie_header(jar)}
        )
        _cookies(fields, jar)
        latencies.append(time.perf_counter() - began)
    client.close()
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


def one_round(cards: int, token: str, worker_class: str, threads: int) -> dict:
    """The API, the web form and the service, one after the other; their rates and rows."""
    from django.db import connections

    from billing.models import Account

    port = _free_port()
    server = start_gunicorn(port, worker_class, threads)
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
    rows.append(("API / service", f"{rates['api'] / rates['service']:.2f}"))
    rows.append(("web form / service", f"{rates['form'] / rates['service']:.2f}"))
    return {"rates": rates, "rows": rows}


def run(cards: int, rounds: int, worker_class: str, threads: int) -> None:
    from common import fixtures

    from api import services as api_services
    from api.models import ApiKey

    SERVER_LOG.write_bytes(b"")
    fx = fixtures()
    ApiKey.objects.filter(name="bench").delete()
    _, token = api_services.api_key_create(
        user=fx["operator"], name="bench", reseller=fx["north"], networks=["127.0.0.1"]
    )
    ratios = {"api": [], "form": []}
    for number in range(1, rounds + 1):
        result = one_round(cards, token, worker_class, threads)
        server = f"{worker_class}, {threads} thread(s)" if worker_class == "gthread" else "sync"
        title = f"Round {number}: {cards:,} cards through HTTP ({server}) and in-process"
        report(title, result["rows"])
        for name, values in ratios.items():
            values.append(result["rates"][name] / result["rates"]["service"])
    report(
        f"Median of {rounds} round(s), each ratio taken within its round",
        [
            ("API / service", f"{statistics.median(ratios['api']):.2f} (target >= 0.5)"),
            ("web form / service", f"{statistics.median(ratios['form']):.2f}"),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--worker-class",
        default="gthread",
        choices=["gthread", "sync"],
        help="gunicorn's worker class (the README deploys gthread)",
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per gthread worker (the README's: 4)"
    )
    args = parser.parse_args()
    os.environ.update(LIMITS)
    os.environ["REDEEM_API_KEY_FAILURES"] = "1000000"
    setup_django()
    run(args.cards, args.rounds, args.worker_class, args.threads)
