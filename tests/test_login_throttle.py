"""Finding 5: sign-in is throttled in the database, across server processes; operators lift it."""

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse

from tests.databases import database_url
from tests.factories import UserFactory

LOGIN = reverse("login")
ROOT = Path(settings.BASE_DIR)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One gunicorn process of the app on loopback, on the test database."""

    def __init__(self):
        self.port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": database_url(),
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1",
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.process.stderr.read().decode()) from None
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Browser:
    """Cookies and the CSRF token, as a browser keeps them (cookies are per host, not port)."""

    def __init__(self):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )

    def sign_in(self, server: Server, username: str, password: str):
        page = self.opener.open(f"{server.url}{LOGIN}", timeout=10).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        try:
            response = self.opener.open(f"{server.url}{LOGIN}", data=data, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        return response.status, dict(response.headers), response.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.django_db(transaction=True)
def test_sign_in_is_throttled_across_two_server_processes(settings):
    UserFactory(username="victim", password="right-password-1")
    servers = [Server(), Server()]
    try:
        browser = Browser()
        statuses = [
            browser.sign_in(servers[i % 2], "victim", "wrong")[0]
            for i in range(settings.AXES_FAILURE_LIMIT)
        ]
        # The form again, with its error, until the failure that reaches the limit.
        assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
        # The limit was reached through two processes: the right password is refused on both.
        for server in servers:
            status, headers, body = browser.sign_in(server, "victim", "right-password-1")
            assert status == 429
            assert "Too many attempts" in body
            assert 0 < int(headers["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
        # A fresh browser from the same machine is refused too: the count is in the database.
        assert Browser().sign_in(servers[0], "victim", "right-password-1")[0] == 429
    finally:
        for server in servers:
            server.stop()
    assert AccessAttempt.objects.get(username="victim").failures_since_start >= 5


@pytest.mark.django_db
def test_the_lockout_page_is_styled_and_an_operator_lifts_it(client, admin_client, tree):
    UserFactory(username="clerk", password="right-password-1")
    for _ in range(5):
        client.post(LOGIN, {"username": "clerk", "password": "wrong"})
    locked = client.post(LOGIN, {"username": "clerk", "password": "right-password-1"})
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    assert "app.css" in locked.content.decode()  # the site's layout
    # An operator sees the lockout in the admin and lifts it.
    operator = tree["operator"]
    admin_client.force_login(operator)
    listing = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "clerk" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="clerk")
    response = admin_client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert (
        client.post(LOGIN, {"username": "clerk", "password": "right-password-1"}).status_code == 302
    )


@pytest.mark.django_db
def test_forged_forwarded_addresses_do_not_reset_the_count(client):
    UserFactory(username="clerk", password="right-password-1")
    for i in range(5):
        client.post(
            LOGIN, {"username": f"guess{i}", "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"6.6.6.{i}"
        )
    response = client.post(
        LOGIN, {"username": "clerk", "password": "right-password-1"}, HTTP_X_FORWARDED_FOR="7.7.7.7"
    )
    assert response.status_code == 429
