"""/healthz and /readyz (issue 24): plain, fast, no sign-in; readyz says 503 while the
database is away."""

import io
import json
import sys
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from config import health
from config.wsgi import application
from topup.models import BulkJob

pytestmark = pytest.mark.django_db(transaction=True)


def call(path: str, query: str = "", host: str = "10.1.2.3"):
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "10.1.2.3",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.1.2.4",
        "HTTP_HOST": host,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered["status"] = int(status.split()[0])
        answered["headers"] = dict(headers)

    body = b"".join(application(environ, start_response))
    return answered["status"], answered["headers"], body


def test_healthz_answers_by_ip_over_plain_http_without_the_database(monkeypatch):
    monkeypatch.setattr(health, "readiness", None)  # never called for healthz
    status, headers, body = call("/healthz", host="10.1.2.3")  # not in ALLOWED_HOSTS
    assert (status, body) == (200, b"ok\n")


def test_readyz_reports_each_check():
    status, headers, body = call("/readyz")
    assert status == 200, body
    assert json.loads(body) == {
        "ready": True,
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
        "replica": {"status": "off", "lag_seconds": None},  # no DATABASE_REPLICA_URL
    }


def test_readyz_is_503_while_the_database_is_away(monkeypatch):
    def away():
        raise OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(health, "_database", away)
    status, headers, body = call("/readyz")
    assert status == 503 and headers["Retry-After"] == "5"
    answer = json.loads(body)
    assert answer["ready"] is False
    assert answer["checks"]["database"].startswith("unreachable: connection to server failed")


def test_a_stalled_worker_is_reported_unless_skipped(tree):
    BulkJob.objects.create(
        kind="delete",
        state="running",
        created_by=tree["operator"],
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    status, _, body = call("/readyz")
    assert status == 503
    assert json.loads(body)["checks"]["worker"] == "stale: work is running without a heartbeat"
    status, _, body = call("/readyz", "skip=worker")
    assert status == 200 and "worker" not in json.loads(body)["checks"]
