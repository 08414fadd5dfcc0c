"""/metrics (access, what it counts) and JSON logs with a request id and never a PIN."""

import io
import json
import logging
import logging.config

import pytest
from django.conf import settings
from django.test import Client

from config import metrics
from config.wsgi import application
from tests.api.conftest import redeem

API_VIEW = "api-v1:redeem"


def scrape(**environ) -> tuple[str, str]:
    answer = {}
    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/metrics",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "REMOTE_ADDR": "192.0.2.10",
    }
    body = application({**base, **environ}, lambda status, headers: answer.update(s=status))
    return answer["s"], b"".join(body).decode()


def test_metrics_need_the_token_or_an_allowed_network(transactional_db, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert scrape()[0].startswith("403")
    assert scrape(HTTP_AUTHORIZATION="Bearer wrong")[0].startswith("403")
    # A forwarded address is no pass: only the peer's own counts.
    assert scrape(HTTP_X_FORWARDED_FOR="10.1.1.1")[0].startswith("403")
    assert scrape(HTTP_AUTHORIZATION="Bearer scrape-token-123")[0].startswith("200")
    assert scrape(REMOTE_ADDR="10.1.2.3")[0].startswith("200")
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []
    assert scrape(HTTP_AUTHORIZATION="Bearer ")[0].startswith("403")


@pytest.mark.django_db(transaction=True)  # a scrape closes its connections, as a probe does
def test_metrics_count_redemptions_lockouts_latency_and_the_queue(
    tree, north_key, account, card, settings
):
    settings.METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24"]
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 2
    _, token = north_key
    card_obj, pin = card

    def count(text, name, **labels) -> float:
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        line = f"{name}{{{wanted}}}" if labels else name
        return sum(
            float(row.rsplit(" ", 1)[1]) for row in text.splitlines() if row.startswith(line + " ")
        )

    _, before = scrape()
    client = Client()
    assert redeem(client, token, account.number, pin, "a").status_code == 201
    for key in ("b", "c", "d"):
        redeem(client, token, account.number, "000000000000", key)
    _, after = scrape()
    name = "topup_redemptions_total"
    assert count(after, name, outcome="success") - count(before, name, outcome="success") == 1
    assert count(after, name, outcome="locked") - count(before, name, outcome="locked") >= 1
    total = "topup_redemption_lockouts_total"
    assert count(after, total) - count(before, total) >= 1
    latency = "topup_request_seconds_count"
    posted = count(after, latency, method="POST", view=API_VIEW)
    assert posted - count(before, latency, method="POST", view=API_VIEW) == 4
    for gauge in (
        "topup_task_queue_depth",
        "topup_bulk_jobs_running",
        "topup_card_summary_rows",
        "topup_replica_lag_seconds",
    ):
        assert f"\n{gauge} " in after


@pytest.mark.django_db
def test_a_redemptions_logs_are_json_with_a_request_id_and_hold_no_pin(
    tree, north_key, account, card, caplog
):
    _, token = north_key
    card_obj, pin = card
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    config = settings.LOGGING
    handler.setFormatter(
        logging.config.DictConfigurator(config).configure_formatter(config["formatters"]["json"])
    )
    handler.addFilter(logging.config.DictConfigurator(config).configure_filter(
        config["filters"]["request_id"]
    ))  # fmt: skip
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    try:
        client = Client()
        wrong = redeem(client, token, account.number, "123412341234", "w")
        right = redeem(client, token, account.number, pin, "r")
        logging.getLogger("topup.test").warning("after")
    finally:
        root.removeHandler(handler)
    assert right.status_code == 201 and wrong.status_code == 422
    assert right["X-Request-ID"] != wrong["X-Request-ID"]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and all({"time", "level", "logger", "request_id"} <= line.keys() for line in lines)
    everything = stream.getvalue() + caplog.text
    assert pin not in everything and "123412341234" not in everything
    assert token not in everything and token.split("_")[-1] not in everything


def test_metrics_module_counts_the_outcome_enum():
    class Outcome:
        value = "success"

    class Result:
        outcome = Outcome()

    before = metrics.REDEMPTIONS.labels(outcome="success")._value.get()
    metrics.redemption_counted(lambda: Result())()
    assert metrics.REDEMPTIONS.labels(outcome="success")._value.get() == before + 1
