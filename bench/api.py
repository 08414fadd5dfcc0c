"""Redemptions per second through HTTP: the API and the web form, next to the service itself.

    bin/with-postgres .venv/bin/python bench/api.py [--cards 1600] [--rounds 3]
        [--worker-class gthread|sync]

Each round: gunicorn (4 workers, gthread with four threads each by default, as the README
deploys it: connections kept alive) on loopback serves 8 concurrent clients, each on its own
connection with its own customer account and its own share of fresh, valid PINs; first
through POST /api/v1/redemptions (one API key for all, a fresh Idempotency-Key per request),
then through the customer's Payment Gateways form (signed in, CSRF token, POST, and the
redirect it answers with followed). One process drives the 8 connections, so the load
generator takes as little as it can of the two cores the server shares with it. The service
(`card_redeem`, in-process, 4 processes) runs just before and just after the API, which is
compared with the mean of the two. Every redemption must succeed; latency is per request as
the client sees it. The ratios are taken within each round (the machine's speed drifts
between rounds) and their median is reported.
"""

import argparse
import http.client
import json
import os
import re
import resource
import selectors
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
TICKS = os.sysconf("SC_CLK_TCK")
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


READY = "ready"  # what a conversation yields when its set-up is done and the clock may start


class Connection:
    """One client's keep-alive HTTP/1.1 connection, for load generation: requests written as
    bytes, responses read by Content-Length, reconnected when the server closes (the sync
    worker). A conversation (a generator) yields its requests, (method, path, body,
    headers), and is sent each response, (status, headers as (lower-case name, value),
    body). All clients share the server's two cores, so every microsecond they spend is
    taken from it: one process drives them all (`http.client` parses each response's
    headers with the email package, about three times the cost; a process per client
    added its own scheduling)."""

    def __init__(self, port: int, conversation, selector):
        self.port, self.conversation, self.selector = port, conversation, selector
        self.sock = None
        self.buffer = b""

    def send(self, request) -> None:
        method, path, body, headers = request
        if isinstance(body, str):
            body = body.encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        head.append(f"Content-Length: {len(body)}")
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            self.buffer = b""
            self.selector.register(self.sock, selectors.EVENT_READ, self)
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def receive(self):
        """Read what has arrived; the response once it is complete, else None."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-response")
        self.buffer += chunk
        raw, found, rest = self.buffer.partition(b"\r\n\r\n")
        if not found:
            return None
        lines = raw.decode("latin-1").split("\r\n")
        fields = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields.append((name.strip().lower(), value.strip()))
        length = int(next((v for n, v in fields if n == "content-length"), "0"))
        if len(rest) < length:
            return None
        self.buffer = rest[length:]
        if ("connection", "close") in fields:
            self.close()
        return int(lines[0].split(" ", 2)[1]), fields, rest[:length]

    def advance(self, response) -> bool:
        """Hand the conversation a response (None to begin); send what it asks next. False
        when it is over."""
        try:
            request = self.conversation.send(response)
        except StopIteration:
            self.close()
            return False
        self.send(request)
        return True

    def set_up(self) -> None:
        """Run the conversation's set-up (signing in, say) until it is READY. The connection is
        then closed: the others' set-up may take longer than the server keeps it idle, and
        each client's first timed request connects afresh."""
        request = next(self.conversation)
        while request != READY:
            self.send(request)
            response = None
            while response is None:
                response = self.receive()
            request = self.conversation.send(response)
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None


def converse(port: int, conversations) -> float:
    """Run the conversations at once, one connection each; seconds from READY to the end."""
    selector = selectors.DefaultSelector()
    connections = [Connection(port, c, selector) for c in conversations]
    for connection in connections:
        connection.set_up()
    began = time.perf_counter()
    active = sum(connection.advance(None) for connection in connections)
    while active:
        ready = selector.select(timeout=60)
        if not ready:
            raise TimeoutError("no answer from the server for 60 s")
        for key, _ in ready:
            connection = key.data
            response = connection.receive()
            if response is not None and not connection.advance(response):
                active -= 1
    took = time.perf_counter() - began
    selector.close()
    return took


def api_conversation(token, number, pins, latencies):
    yield READY
    for i, pin in enumerate(pins):
        began = time.perf_counter()
        status, _, _ = yield (
            "POST", "/api/v1/redemptions",
            json.dumps({"account": number, "pin": pin}),
            {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{number}-{i}",
             "Content-Type": "application/json"},
        )  # fmt: skip
        latencies.append(time.perf_counter() - began)
        assert status == 201, status


def _cookies(fields, jar):
    for name, value in fields:
        if name == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key] = rest.split(";", 1)[0]


def _cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _header(fields, wanted):
    return next(value for name, value in fields if name == wanted)


def form_conversation(port, username, pins, latencies):
    jar = {}
    _, fields, page = yield ("GET", "/login/", b"", None)
    _cookies(fields, jar)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    status, fields, _ = yield (
        "POST", "/login/",
        urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}),
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar)},
    )  # fmt: skip
    assert status == 302, f"login failed: {status}"
    _cookies(fields, jar)
    _, fields, page = yield ("GET", "/payment-gateways/", b"", {"Cookie": _cookie_header(jar)})
    _cookies(fields, jar)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    yield READY
    for pin in pins:
        began = time.perf_counter()
        status, fields, _ = yield (
            "POST", "/payment-gateways/",
            urlencode({"pin": pin, "csrfmiddlewaretoken": token}),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar),
             "Referer": f"http://127.0.0.1:{port}/payment-gateways/"},
        )  # fmt: skip
        assert status == 302, status
        _cookies(fields, jar)
        _, fields, _ = yield (
            "GET",
            _header(fields, "location"),
            b"",
            {"Cookie": _cookie_header(jar)},
        )
        _cookies(fields, jar)
        latencies.append(time.perf_counter() - began)


def run_clients(port, conversation, args_per_client) -> tuple[float, list[float]]:
    """8 clients at once, each a conversation on its own connection; (seconds, latencies)."""
    latencies = []
    took = converse(port, [conversation(*args, latencies) for args in args_per_client])
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


def _cpu_seconds(pid: str) -> tuple[str, int, float]:
    """(command name, parent pid, user + system CPU seconds) of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        head, _, rest = stat.read().rpartition(")")
    fields = rest.split()
    return head.partition("(")[2], int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def cpu_snapshot(server_pid: int) -> dict | None:
    """CPU seconds so far of PostgreSQL's processes, of gunicorn's (the arbiter and its
    workers) and of this process (the clients' loop); None where there is no /proc. A
    process that exits in between takes its time with it: the API phase's server processes
    live through it."""
    if not os.path.isdir("/proc/self"):
        return None
    totals = {"postgres": 0.0, "gunicorn": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name, parent, seconds = _cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue
        if name == "postgres":
            totals["postgres"] += seconds
        elif server_pid in (int(pid), parent):
            totals["gunicorn"] += seconds
    usage = resource.getrusage(resource.RUSAGE_SELF)
    totals["client"] = usage.ru_utime + usage.ru_stime
    return totals


def cpu_row(before: dict | None, after: dict | None, requests: int) -> tuple[str, str]:
    if before is None or after is None:
        return ("CPU per API request", "not measured here (no /proc)")
    per = {name: (after[name] - before[name]) / requests * 1000 for name in before}
    return (
        "CPU per API request",
        f"PostgreSQL {per['postgres']:.2f} ms, gunicorn {per['gunicorn']:.2f} ms,"
        f" clients {per['client']:.2f} ms",
    )


def service_rate(cards: int) -> float:
    """Redemptions per second of the in-process service, 4 processes."""
    accounts, shares = prepare(cards, 4)
    return cards / measure(service_worker, accounts, shares)


def one_round(cards: int, token: str, worker_class: str, threads: int) -> dict:
    """The service, the API, the service again, then the web form; their rates and rows.

    The machine's speed drifts, so the API is measured between two runs of the service and
    compared with their mean (the form, after them, with the same mean).
    """
    from django.db import connections

    from billing.models import Account

    port = _free_port()
    server = start_gunicorn(port, worker_class, threads)
    rows, rates = [], {}
    try:
        before = service_rate(cards)
        accounts, shares = prepare(cards, CLIENTS)
        numbers = dict(Account.objects.filter(pk__in=accounts).values_list("pk", "number"))
        connections.close_all()
        cpu_before = cpu_snapshot(server.pid)
        took, latencies = run_clients(
            port,
            api_conversation,
            [(token, numbers[a], s) for a, s in zip(accounts, shares, strict=True)],
        )
        cpu = cpu_row(cpu_before, cpu_snapshot(server.pid), cards)
        rates["api"] = cards / took
        rows.append(("API, gunicorn 4 workers, 8 clients", summary(cards, took, latencies)))
        after = service_rate(cards)
        rates["service"] = (before + after) / 2

        accounts, shares = prepare(cards, CLIENTS)
        users = customers(accounts)
        connections.close_all()
        took, latencies = run_clients(
            port, form_conversation, [(port, u, s) for u, s in zip(users, shares, strict=True)]
        )
        rates["form"] = cards / took
        rows.append(("web form, same server and clients", summary(cards, took, latencies)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows.append(
        ("service in-process, 4 processes", f"{before:6.0f}/s before the API, {after:.0f}/s after")
    )
    rows.append(cpu)
    rows.append(("API / service (their mean)", f"{rates['api'] / rates['service']:.2f}"))
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
