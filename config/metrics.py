"""Prometheus metrics (prometheus-client), served at `/metrics` to allowed scrapers only.

Counted in the process that does the work: redemptions by outcome (lockout refusals among them),
request latency by view, background task duration. Several gunicorn workers and the task
worker write them to PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode; one
directory per host, emptied at boot: deploy/systemd). Read from the database when scraped:
background queue depth, running bulk jobs, the card summary's rows (what compaction folds) and
the replica's lag.

Access (`allowed`): a bearer token equal to METRICS_TOKEN, or a peer address (REMOTE_ADDR,
never a forwarded header) in METRICS_ALLOWED_NETWORKS. Neither set: nobody.
"""

import functools
import hmac
import ipaddress
import os
import time

from django.apps import apps
from django.conf import settings
from django.db import Error, close_old_connections, connection
from django.views.decorators.debug import sensitive_variables
from django_tasks.signals import task_finished
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from config import replica

PATH = "/metrics"

REDEMPTIONS = Counter("topup_redemptions_total", "PIN redemptions by outcome.", ["outcome"])
LOCKOUT_REFUSALS = Counter(
    "topup_redemption_lockouts_total", "Redemptions refused because a lockout was active."
)
REQUEST_LATENCY = Histogram(
    "topup_request_seconds",
    "Time to answer a request, by view (URL name).",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TASK_DURATION = Histogram(
    "topup_task_seconds",
    "Background task run time, by task and final status.",
    ["task", "status"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)


def redemption_counted(redeem):
    """Decorates the redemption service: counts each result's outcome."""

    @functools.wraps(redeem)
    @sensitive_variables()  # its arguments hold the PIN
    def counted(*args, **kwargs):
        result = redeem(*args, **kwargs)
        outcome = getattr(result.outcome, "value", str(result.outcome))
        REDEMPTIONS.labels(outcome=outcome).inc()
        if outcome == "locked":
            LOCKOUT_REFUSALS.inc()
        return result

    return counted


class RequestLatencyMiddleware:
    """Observes each request's time under its view's URL name ("unresolved" for a 404)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        REQUEST_LATENCY.labels(
            view=match.view_name if match else "unresolved", method=request.method
        ).observe(time.perf_counter() - started)
        return response


def _task_finished(sender, task_result, **kwargs):
    if task_result.started_at and task_result.finished_at:
        seconds = (task_result.finished_at - task_result.started_at).total_seconds()
        TASK_DURATION.labels(task=task_result.task.name, status=str(task_result.status)).observe(
            seconds
        )


task_finished.connect(_task_finished, dispatch_uid="topup-metrics-task-finished")


class DatabaseCollector:
    """Figures read from the database at each scrape (cheap: counts of small sets)."""

    def collect(self):
        depth = GaugeMetricFamily("topup_task_queue_depth", "Background tasks waiting to run.")
        running = GaugeMetricFamily("topup_bulk_jobs_running", "Bulk jobs running now.")
        summary = GaugeMetricFamily(
            "topup_card_summary_rows", "Card summary rows; compaction folds the delta rows."
        )
        lag = GaugeMetricFamily(
            "topup_replica_lag_seconds", "Replay lag of the read replica (-1: down or off)."
        )
        try:
            tasks = apps.get_model("django_tasks_database", "DBTaskResult").objects
            depth.add_metric([], tasks.filter(status="READY").count())
            jobs = apps.get_model("topup", "BulkJob").objects
            running.add_metric([], jobs.filter(state="running").count())
            summary.add_metric([], apps.get_model("topup", "CardSummary").objects.count())
        except Error:
            connection.close()  # scraped during an outage: the figures are left out
        state = replica.health.state()
        lag.add_metric([], state.lag_seconds if state.lag_seconds is not None else -1)
        yield from (depth, running, summary, lag)


def allowed(environ) -> bool:
    """May this request read the metrics? (See the module docstring.)"""
    token = settings.METRICS_TOKEN
    given = environ.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        peer in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS
    )


def metrics_app(environ, start_response):
    """The WSGI answer to /metrics: this host's processes' metrics, or 403."""
    if not allowed(environ):
        body = b"forbidden\n"
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [body]
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REDEMPTIONS, LOCKOUT_REFUSALS, REQUEST_LATENCY, TASK_DURATION):
            registry.register(metric)
    registry.register(DatabaseCollector())
    close_old_connections()
    try:
        body = generate_latest(registry)
    finally:
        close_old_connections()
    start_response(
        "200 OK",
        [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")],
    )
    return [body]
