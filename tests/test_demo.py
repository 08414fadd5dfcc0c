"""The README's first command, end to end: `bin/demo` (what `make demo` runs) on a fresh
embedded PostgreSQL, then an operator signed in over HTTP sees the demo's cards in the card
list, their value on the home page and in the liability report; and the demo stops its
database server when it is told to stop.

It runs its own embedded server in a temporary directory whatever DATABASE_URL the rest of the
suite uses, with the environment a person's shell would give it (none of the suite's)."""

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 120
# What a shell passes on; the suite's own settings (DATABASE_URL, keys, ...) stay out.
PASSED_ON = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TERM"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """Cookies and the CSRF token, as a browser keeps them."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def sign_in(self, username: str, password: str) -> str:
        page = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": username, "password": password}
        ).encode()
        request = urllib.request.Request(
            self.base + "/login/", data=body, headers={"Referer": self.base + "/login/"}
        )
        with self.opener.open(request, timeout=30) as response:  # follows the redirect home
            return response.read().decode()


def text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


@pytest.fixture
def demo():
    data_dir = Path(tempfile.mkdtemp(prefix="topup-demo-test-"))
    port = free_port()
    log = open(data_dir.parent / f"{data_dir.name}.log", "w+")  # noqa: SIM115 - read at the end
    process = subprocess.Popen(
        [sys.executable, "bin/demo", "--data-dir", str(data_dir), "--address", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if key in PASSED_ON},
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def output() -> str:
        log.seek(0)
        return log.read()

    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"bin/demo ended early:\n{output()}"
            assert time.monotonic() < deadline, f"bin/demo did not serve:\n{output()}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.25)
        yield Browser(f"http://127.0.0.1:{port}"), process, data_dir, output
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        log.close()
        os.unlink(log.name)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_make_demo_serves_the_demo_cards_to_a_signed_in_operator_then_stops(demo):
    browser, process, data_dir, output = demo
    assert output().startswith(f"bin/demo: database: the embedded PostgreSQL on {data_dir}")
    assert "Demo data ready" in output()

    home = text(browser.sign_in("operator", "topup-demo"))

    cards = browser.get("/cards/")
    assert re.search(r'data-testid="total-count">\s*50\s*<', cards), text(cards)
    assert "101-00000001" in cards and "No cards" not in cards

    # Series 101: 25 e-PINs of 10.00 USD, sold at once; series 201 waits in stock.
    assert "Outstanding" in home and "$250.00 25 cards" in home, home

    report = text(browser.get("/reports/liability/"))
    assert re.search(r"North Telecom USD \$250\.00 \$0\.00 \$0\.00 \$0\.00 \$250\.00", report), (
        report
    )

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert not (data_dir / "postmaster.pid").exists(), "the database server was left running"
