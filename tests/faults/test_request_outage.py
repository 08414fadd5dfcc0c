"""Requests cut off by a database outage (issue 24): 503 with Retry-After, never 500; a
redemption whose fate is unknown says so and is in the attempt log; nothing lost or doubled."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import OperationalError, connection
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from config.outage_views import UNCONFIRMED
from tests.factories import SeriesFactory, make_card
from topup.models import RedemptionAttempt
from topup.services.redemption import statement

GATEWAY = reverse("topup:payment-gateways")
COUNT = 20


def _lost(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.django_db
def test_an_unreachable_database_answers_503_with_retry_after_and_the_styled_page(
    operator_client, monkeypatch, settings
):
    settings.DB_OUTAGE_RETRY_AFTER = 7
    monkeypatch.setattr("topup.models.jobs.BulkJobQuerySet.visible_to", _lost)
    operator_client.raise_request_exception = False
    response = operator_client.get(reverse("topup:bulk-job-list"))
    assert response.status_code == 503 and response["Retry-After"] == "7"
    page = response.content.decode()
    assert "The service is briefly unavailable" in page and "about 7 seconds" in page
    assert "Error 503" in page


@pytest.mark.django_db
def test_the_api_answers_its_json_error_body_when_the_database_is_away(client, monkeypatch):
    monkeypatch.setattr("api.v1.BearerKey.authenticate", _lost)
    client.raise_request_exception = False
    response = client.get("/api/v1/accounts/1/balance", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "retry_after": 5}
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_other_errors_stay_a_500(operator_client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("topup.models.jobs.BulkJobQuerySet.visible_to", boom)
    operator_client.raise_request_exception = False
    assert operator_client.get(reverse("topup:bulk-job-list")).status_code == 500


@pytest.mark.django_db(transaction=True)
def test_twenty_redemptions_while_connections_are_terminated(
    customer, tree, terminator, monkeypatch
):
    series = SeriesFactory(code="555", reseller=tree["north"], amount=Decimal("10.00"))
    cards = [make_card(series=series, number=f"555-{n:08d}") for n in range(1, COUNT + 1)]
    opening = customer.balance
    # Each crediting statement waits a moment first, so the cuts land inside some requests.
    real = statement.credit

    def slow(redemption, **kwargs):
        time.sleep(0.05)
        return real(redemption, **kwargs)

    monkeypatch.setattr(statement, "credit", slow)
    clients = []
    for _ in range(COUNT):
        c = Client(raise_request_exception=False)
        c.force_login(customer.user)
        clients.append(c)
    connection.close()
    start = threading.Barrier(COUNT + 1)
    answers: dict[int, object] = {}

    def redeem(i: int) -> None:
        start.wait()
        answers[i] = clients[i].post(GATEWAY, {"pin": cards[i][1]}, REMOTE_ADDR=f"10.9.0.{i + 1}")

    # Cut every connection twice: once a few answers are in, and again halfway.
    marks = iter([3, COUNT // 2])
    due = [next(marks)]

    def when(t):
        if due[0] is None or len(answers) < due[0]:
            return False
        due[0] = next(marks, None)
        return True

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(COUNT)]
    for thread in threads:
        thread.start()
    with terminator(when) as cut:
        start.wait()
        for thread in threads:
            thread.join(60)
    assert len(answers) == COUNT
    codes = sorted(r.status_code for r in answers.values())
    assert 500 not in codes, codes
    assert sum(cut.killed) > 0, cut.killed
    customer.refresh_from_db()
    ledger = customer.transactions.filter(kind="topup_card")

    def credited(card) -> bool:
        return ledger.filter(reference=f"topup.card:{card.pk}").exists()

    attempts = RedemptionAttempt.objects.filter(account=customer)
    unconfirmed, unavailable = [], []
    for i, response in answers.items():
        card, _ = cards[i]
        address = f"10.9.0.{i + 1}"
        if response.status_code == 302:  # confirmed to its client
            assert response["Location"] == GATEWAY
            assert attempts.filter(client_address=address, outcome="success").exists()
            assert credited(card)
        else:
            assert response.status_code == 503 and response["Retry-After"]
            unconfirmed.append(i)
            if UNCONFIRMED not in response.content.decode():
                # Cut off before the page began to redeem (signing in): nothing happened.
                assert "The service is briefly unavailable" in response.content.decode()
                assert not credited(card)
                unavailable.append(i)
                continue
            logged = attempts.filter(client_address=address)
            # Support sees it: logged as unconfirmed, or as credited if it did commit.
            assert logged.filter(outcome__in=["unknown", "success"]).exists() or not credited(card)
    assert attempts.filter(outcome="unknown", reason="unconfirmed").exists()
    # Nothing doubled; the balance is the ledger's sum.
    references = list(ledger.values_list("reference", flat=True))
    assert len(references) == len(set(references))
    total = customer.transactions.aggregate(s=Sum("amount"))["s"]
    assert customer.balance == total
    # The customer tries the unconfirmed ones again: credited now, or "already credited".
    again = Client()
    again.force_login(customer.user)
    for i in unconfirmed:
        page = again.post(GATEWAY, {"pin": cards[i][1]}, follow=True).content.decode()
        assert "added to your balance" in page or "already credited to your account" in page
    customer.refresh_from_db()
    references = sorted(ledger.values_list("reference", flat=True))
    assert references == sorted(f"topup.card:{card.pk}" for card, _ in cards)  # each once
    assert customer.balance == opening + COUNT * Decimal("10.00")
    assert customer.balance == customer.transactions.aggregate(s=Sum("amount"))["s"]
    print(
        f"confirmed={codes.count(302)} unconfirmed={len(unconfirmed) - len(unavailable)} "
        f"unavailable={len(unavailable)} killed={cut.killed}"
    )


@pytest.mark.django_db(transaction=True)
def test_a_credit_whose_commit_answer_was_lost_is_unconfirmed_then_already_credited(
    customer, tree, monkeypatch
):
    """The commit reached the server but its answer never came back: the customer is told
    to check, support sees the attempt, and the same PIN again says "already credited"."""
    series = SeriesFactory(code="556", reseller=tree["north"], amount=Decimal("10.00"))
    card, pin = make_card(series=series)
    client = Client(raise_request_exception=False)
    client.force_login(customer.user)
    real = statement.credit
    lost = []

    def credit_then_lose_the_answer(redemption, **kwargs):
        ran = real(redemption, **kwargs)  # one autocommitted statement: committed here
        if not lost:
            lost.append(True)
            raise OperationalError("server closed the connection unexpectedly")
        return ran

    monkeypatch.setattr(statement, "credit", credit_then_lose_the_answer)
    response = client.post(GATEWAY, {"pin": pin}, REMOTE_ADDR="10.9.1.1")
    monkeypatch.undo()
    assert lost and response.status_code == 503 and response["Retry-After"] == "5"
    assert UNCONFIRMED in response.content.decode()
    logged = RedemptionAttempt.objects.filter(account=customer, client_address="10.9.1.1")
    assert set(logged.values_list("outcome", "reason")) == {
        ("success", ""),  # in the statement that did commit
        ("unknown", "unconfirmed"),  # written after the error, on a new connection
    }
    page = client.post(GATEWAY, {"pin": pin}, follow=True).content.decode()
    assert "This card was already credited to your account ($10.00)" in page
    customer.refresh_from_db()
    ledger = customer.transactions.filter(reference=f"topup.card:{card.pk}")
    assert ledger.count() == 1
    assert customer.balance == customer.transactions.aggregate(s=Sum("amount"))["s"]
