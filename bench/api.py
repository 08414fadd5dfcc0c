"""Redemptions per second through HTTP, next to the service itself, under realistic traffic.

    bin/with-postgres .venv/bin/python bench/api.py [--cards 1600] [--rounds 3]
        [--mixes 0,2,10] [--worker-class gthread|sync] [--form]

One API key is shared by all the traffic, as a gateway's is: 8 concurrent clients, each on its
own keep-alive connection, send POST /api/v1/redemptions for 16 accounts each (128 in all), a
fresh Idempotency-Key per request, through gunicorn (4 workers, gthread with four threads each
by default, as the README deploys it). A steady share of the calls (each mix: 0 %, 2 % and
10 % by default) carries a wrong PIN, spread evenly over the calls, so the key always has
live failures; one account in eight starts near its own limit (limit - 2 failures in the
window) and gets only right PINs. The key's limit is set out of reach: what is measured is a
key *with* failures, not one locked out. Every answer is checked (201 for a right PIN, 422
for a wrong one).

The service (`card_redeem` in-process with the same key, 4 processes) runs the same mix just
before and just after the API, which is compared with the mean of the two; the mixes are
interleaved within each round (the machine's speed drifts), and each mix's median ratio over
the rounds is reported. One process drives the 8 connections, so the load generator takes as
little as it can of the two cores the server shares with it. `--form` adds the customer's
Payment Gateways form (all-good PINs) after each round, as the earlier bench measured it.
"""

import argparse
import http.client
import json
import multiprocessing
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
from redemption import LIMITS, prepare

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


def api_conversation(token, requests, latencies):
    """The client's requests in order: (account number, PIN, the status it must answer)."""
    yield READY
    for i, (number, pin, expected) in enumerate(requests):
        began = time.perf_counter()
        status, _, _ = yield (
            "POST", "/api/v1/redemptions",
            json.dumps({"account": number, "pin": pin}),
            {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{number}-{i}",
             "Content-Type": "application/json"},
        )  # fmt: skip
        latencies.append(time.perf_counter() - began)
        assert status == expected, (status, expected)


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


ACCOUNTS = 128  # the key's customers in the bench, 16 per client
NEAR = 8  # one account in NEAR starts near its own limit
WRONG = "0" * 14  # the length of the bench's PINs: a wrong PIN, not a malformed one


def plan(cards: int, percent: int):
    """Fresh cards for 128 accounts, and each client's requests: (account id, PIN, status).

    Right PINs go round the client's accounts; wrong ones are spread evenly among them (a
    `percent` share of all calls), only to accounts that are not near their limit, which get
    at most a few each (under the limit of 5). The near accounts get their failures now.
    """
    from django.conf import settings
    from django.utils import timezone

    from topup.models import RedemptionAttempt

    accounts, shares = prepare(cards, ACCOUNTS)
    near = set(accounts[: ACCOUNTS // NEAR])  # two of each client's sixteen
    RedemptionAttempt.objects.bulk_create(
        RedemptionAttempt(
            account_id=account, client_address="10.99.0.1", client_network="10.99.0.1",
            outcome="failed", reason="unknown", created_at=timezone.now(),
        )
        for account in near
        for _ in range(settings.REDEEM_ACCOUNT_FAILURES_SHORT - 2)
    )  # fmt: skip
    plans = []
    for client in range(CLIENTS):
        mine = accounts[client::CLIENTS]
        right = [
            (account, shares[accounts.index(account)][j], 201)
            for j in range(max(len(shares[accounts.index(a)]) for a in mine))
            for account in mine
            if j < len(shares[accounts.index(account)])
        ]
        wrong_count = round(len(right) * percent / (100 - percent))
        typo_accounts = [a for a in mine if a not in near]
        requests, every = [], (len(right) / wrong_count if wrong_count else 0)
        typed = 0
        for i, request in enumerate(right):
            requests.append(request)
            if wrong_count and typed < wrong_count and i + 1 >= (typed + 1) * every:
                requests.append((typo_accounts[typed % len(typo_accounts)], WRONG, 422))
                typed += 1
        plans.append(requests)
    return accounts, plans


def mix_worker(requests, api_key: str, start) -> None:
    """The service in-process: the same requests, through `card_redeem` with the same key."""
    setup_django(migrate=False)
    from billing.models import Account
    from topup.services import card_redeem

    accounts = Account.objects.select_related("reseller").in_bulk({a for a, _, _ in requests})
    start.wait()
    for account_id, pin, status in requests:
        outcome = card_redeem(
            account=accounts[account_id], typed_pin=pin, client_address="127.0.0.1",
            api_key=api_key,
        ).outcome  # fmt: skip
        assert outcome == ("success" if status == 201 else "failed"), (outcome, status)


def service_rate(cards: int, percent: int, api_key: str) -> float:
    """Requests per second of the in-process service, 4 processes, under the mix."""
    from django.db import connections

    _, plans = plan(cards, percent)
    work = [plans[i] + plans[i + 4] for i in range(4)]
    connections.close_all()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(work) + 1)
    processes = [ctx.Process(target=mix_worker, args=(w, api_key, start)) for w in work]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a service worker failed (exit code {process.exitcode})")
    return sum(len(w) for w in work) / (time.perf_counter() - began)


def one_round(cards, key, token, percent, worker_class, threads, form) -> dict:
    """The service, the API, the service again under one mix (then the web form with
    `form`); their rates and rows.

    The machine's speed drifts, so the API is measured between two runs of the service and
    compared with their mean.
    """
    from django.db import connections

    from billing.models import Account

    port = _free_port()
    server = start_gunicorn(port, worker_class, threads)
    rows, rates = [], {}
    try:
        before = service_rate(cards, percent, key)
        accounts, plans = plan(cards, percent)
        numbers = dict(Account.objects.filter(pk__in=accounts).values_list("pk", "number"))
        requests = [[(numbers[a], pin, status) for a, pin, status in p] for p in plans]
        total = sum(len(r) for r in requests)
        connections.close_all()
        cpu_before = cpu_snapshot(server.pid)
        took, latencies = run_clients(port, api_conversation, [(token, r) for r in requests])
        cpu = cpu_row(cpu_before, cpu_snapshot(server.pid), total)
        rates["api"] = total / took
        rows.append((f"API, {percent} % wrong PINs, 8 clients", summary(total, took, latencies)))
        after = service_rate(cards, percent, key)
        rates["service"] = (before + after) / 2
        if form:
            accounts, shares = prepare(cards, CLIENTS)
            users = customers(accounts)
            connections.close_all()
            took, latencies = run_clients(
                port, form_conversation, [(port, u, s) for u, s in zip(users, shares, strict=True)]
            )
            rates["form"] = cards / took
            rows.append(("web form (all good), same server", summary(cards, took, latencies)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows.append(
        ("service in-process, same mix", f"{before:6.0f}/s before the API, {after:.0f}/s after")
    )
    rows.append(cpu)
    rows.append(("API / service (their mean)", f"{rates['api'] / rates['service']:.2f}"))
    if form:
        rows.append(("web form / service", f"{rates['form'] / rates['service']:.2f}"))
    return {"rates": rates, "rows": rows}


TARGETS = {0: "", 2: " (target >= 0.7)", 10: " (target >= 0.5)"}


def run(cards, rounds, mixes, worker_class, threads, form) -> None:
    from common import fixtures

    from api import services as api_services
    from api.models import ApiKey

    SERVER_LOG.write_bytes(b"")
    fx = fixtures()
    ApiKey.objects.filter(name="bench").delete()
    key, token = api_services.api_key_create(
        user=fx["operator"], name="bench", reseller=fx["north"], networks=["127.0.0.1"]
    )
    ratios = {percent: [] for percent in mixes}
    loads = [_load()]
    for number in range(1, rounds + 1):
        for percent in mixes:  # interleaved: every mix once per round
            result = one_round(cards, key.public_id, token, percent, worker_class, threads, form)
            server = f"{worker_class}, {threads} thread(s)" if worker_class == "gthread" else "sync"
            title = f"Round {number}, {percent} % wrong PINs: {cards:,} cards ({server})"
            report(title, result["rows"] + [("load average", _load())])
            ratios[percent].append(result["rates"]["api"] / result["rates"]["service"])
        loads.append(_load())
    report(
        f"Median of {rounds} round(s), each ratio taken within its round",
        [
            (
                f"API / service, {percent} % wrong PINs",
                f"{statistics.median(values):.2f}{TARGETS.get(percent, '')}"
                f"   rounds {', '.join(f'{v:.2f}' for v in values)}",
            )
            for percent, values in ratios.items()
        ]
        + [("load average (1, 5, 15 min) at start and after each round", " | ".join(loads))],
    )


def _load() -> str:
    with open("/proc/loadavg") as load:
        return " ".join(load.read().split()[:3])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1600, help="right PINs per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mixes", default="0,2,10", help="shares of wrong PINs, in percent")
    parser.add_argument(
        "--worker-class",
        default="gthread",
        choices=["gthread", "sync"],
        help="gunicorn's worker class (the README deploys gthread)",
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per gthread worker (the README's: 4)"
    )
    parser.add_argument("--form", action="store_true", help="also the web form, all good")
    args = parser.parse_args()
    os.environ.update(LIMITS)
    # The accounts' own limits as deployed (some accounts start near them); the key's out of
    # reach: its failures are there, its lockout is not what is measured.
    os.environ["REDEEM_ACCOUNT_FAILURES_SHORT"] = "5"
    os.environ["REDEEM_ACCOUNT_FAILURES_LONG"] = "20"
    os.environ["REDEEM_API_KEY_FAILURES"] = "1000000"
    setup_django()
    mixes = [int(m) for m in args.mixes.split(",")]
    run(args.cards, args.rounds, mixes, args.worker_class, args.threads, args.form)
