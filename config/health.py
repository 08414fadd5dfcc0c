"""`/healthz` and `/readyz`: plain, fast, for a load balancer, a supervisor or a person.

Served by config/wsgi.py before Django's middleware: no host check, no HTTPS redirect, no
session, no sign-in, so a probe by IP address over plain HTTP gets its answer.

- `/healthz`: the process is up and answering. Never touches the database: 200 "ok".
- `/readyz`: JSON of three checks, 200 when all pass, else 503 (with Retry-After):
  `database` (a connection answers `SELECT 1`), `migrations` (none pending; remembered once
  true) and `worker` (no task waiting and no job, series or sheet running without a heartbeat
  for TOPUP_JOB_STALE_SECONDS: "idle" when there is no work). `?skip=worker` leaves the worker
  out, for a load balancer that should keep sending requests while only the worker is away.
  The read replica's state ("ok", "lagging", "down" or "off", and its lag) is reported beside
  the checks, never counted against readiness: without it the pages read the primary.
"""

import json
from datetime import timedelta
from urllib.parse import parse_qs

from django.apps import apps
from django.conf import settings
from django.db import Error, close_old_connections, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from config import replica

PATHS = {"/healthz", "/readyz"}
_migrated = False  # once every migration is applied it stays so


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _migrations() -> str:
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            return f"{len(pending)} pending"
        _migrated = True
    return "ok"


def _worker() -> str:
    stale = timezone.now() - timedelta(seconds=settings.TOPUP_JOB_STALE_SECONDS)
    waiting = apps.get_model("django_tasks_database", "DBTaskResult").objects.filter(
        status="READY", run_after__lte=stale
    )
    if waiting.exists():
        return "stale: tasks are waiting for a worker"
    for model in ("BulkJob", "Series", "SheetJob"):
        running = apps.get_model("topup", model).objects.filter(
            state="running", heartbeat_at__lt=stale
        )
        if running.exists():
            return "stale: work is running without a heartbeat"
    return "ok"


def readiness(skip: set[str]) -> dict[str, str]:
    """Each check's result: "ok", or why not. A database that does not answer fails all."""
    checks = {"database": _database, "migrations": _migrations, "worker": _worker}
    found = {}
    for name, check in checks.items():
        if name in skip:
            continue
        try:
            found[name] = check()
        except Error as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            found[name] = f"unreachable: {first_line}"
            connection.close()  # a broken connection must not serve the next request
            break
    return found


def health_app(environ, start_response):
    """The WSGI answer to PATHS (see the module docstring)."""
    if environ["PATH_INFO"] == "/healthz":
        status, body, headers = "200 OK", b"ok\n", [("Content-Type", "text/plain")]
    else:
        close_old_connections()
        try:
            skip = set(
                ",".join(parse_qs(environ.get("QUERY_STRING", "")).get("skip", [])).split(",")
            )
            found = readiness(skip)
            standby = replica.health.state(fresh=True)
        finally:
            close_old_connections()
        ready = all(value == "ok" for value in found.values()) and "database" in found
        status = "200 OK" if ready else "503 Service Unavailable"
        # The replica is reported, not required: without it the pages read the primary.
        standby_report = {"status": standby.status, "lag_seconds": standby.lag_seconds}
        body = json.dumps({"ready": ready, "checks": found, "replica": standby_report}).encode()
        body += b"\n"
        headers = [("Content-Type", "application/json")]
        if not ready:
            headers.append(("Retry-After", str(settings.DB_OUTAGE_RETRY_AFTER)))
    headers += [("Cache-Control", "no-store"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]
