import json
import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from api.models import IdempotencyRecord
from billing.models import Transaction
from resellers.models import AuditEvent
from tests.api.conftest import REDEMPTIONS, balance_url, error_body, redeem
from tests.factories import AccountFactory
from topup.models import Card, RedemptionAttempt


def test_a_valid_pin_credits_and_answers_201(client, north_key, account, card):
    _, token = north_key
    card, pin = card
    response = redeem(client, token, account.number, pin)
    assert response.status_code == 201
    assert response.json() == {
        "status": "credited",
        "amount": "10.00",
        "currency": "USD",
        "balance": "35.00",
        "card": "101-00000007",
    }
    account.refresh_from_db()
    card.refresh_from_db()
    assert account.balance == Decimal("35.00") and card.activated_by == account
    attempt = RedemptionAttempt.objects.get()
    assert (attempt.outcome, attempt.api_key, attempt.client_address) == (
        "success",
        north_key[0].public_id,
        "127.0.0.1",
    )


def test_the_same_pin_again_with_a_new_idempotency_key_is_already_credited(
    client, north_key, account, card
):
    _, token = north_key
    _, pin = card
    assert redeem(client, token, account.number, pin, "first").status_code == 201
    response = redeem(client, token, account.number, pin.replace("", " ").strip(), "second")
    assert response.status_code == 200
    assert response.json() == {
        "status": "already_credited",
        "amount": "10.00",
        "currency": "USD",
        "balance": "35.00",
        "card": "101-00000007",
    }
    assert Transaction.objects.filter(kind="topup_card").count() == 1


@pytest.mark.parametrize("pin", ["000000000000", "12ab", "1" * 64, " "])
def test_every_other_refusal_is_a_generic_422(client, north_key, account, card, pin):
    _, token = north_key
    response = redeem(client, token, account.number, pin)
    assert response.status_code == 422 and response.json() == error_body("refused")
    assert RedemptionAttempt.objects.get().outcome == "failed"


def test_a_card_used_by_another_account_is_refused_like_an_unknown_pin(
    client, north_key, account, card, tree
):
    _, token = north_key
    _, pin = card
    other = AccountFactory(reseller=tree["north"], currency="USD", user=None)
    assert redeem(client, token, other.number, pin, "a").status_code == 201
    used = redeem(client, token, account.number, pin, "b")
    unknown = redeem(client, token, account.number, "999999999999", "c")
    assert (used.status_code, used.content) == (unknown.status_code, unknown.content)
    reasons = list(RedemptionAttempt.objects.order_by("pk").values_list("reason", flat=True))
    assert reasons == ["", "used_by_other", "unknown"]


def test_lockout_answers_429_with_retry_after_and_evaluates_nothing(
    client, north_key, account, card, settings
):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 2
    _, token = north_key
    card, pin = card
    for i in range(2):
        assert redeem(client, token, account.number, f"00000000000{i}", f"w{i}").status_code == 422
    response = redeem(client, token, account.number, pin, "good")
    assert response.status_code == 429
    body = response.json()
    assert body["status"] == "locked" and body["retry_after"] > 0
    assert response["Retry-After"] == str(body["retry_after"])
    card.refresh_from_db()
    assert card.status == "new" and RedemptionAttempt.objects.count() == 2
    # Not stored: the same idempotency key is evaluated once the lockout is lifted.
    assert not IdempotencyRecord.objects.filter(key="good").exists()
    RedemptionAttempt.objects.update(lifted=True)
    assert redeem(client, token, account.number, pin, "good").status_code == 201


def test_the_key_has_its_own_lockout_across_accounts(client, north_key, tree, settings):
    settings.REDEEM_API_KEY_FAILURES = 3
    _, token = north_key
    accounts = [AccountFactory(reseller=tree["north"], user=None) for _ in range(5)]
    codes = [
        redeem(client, token, a.number, "000000000000", f"k{i}").status_code
        for i, a in enumerate(accounts)
    ]
    assert codes == [422, 422, 422, 429, 429]
    # The gateway's address is not locked out for the web page, nor for another key.
    assert RedemptionAttempt.objects.filter(outcome="failed").count() == 3


def test_an_idempotent_retry_replays_the_first_answer_and_credits_nothing_more(
    client, north_key, account, card
):
    _, token = north_key
    _, pin = card
    first = redeem(client, token, account.number, pin, "retry-me")
    again = redeem(client, token, account.number, pin, "retry-me")
    assert (first.status_code, first.json()) == (again.status_code, again.json())
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    account.refresh_from_db()
    assert account.balance == Decimal("35.00")
    assert RedemptionAttempt.objects.count() == 1


@pytest.mark.parametrize("pin", ["000000000000", "12ab"])  # evaluated in SQL / in Python
def test_a_retried_refusal_replays_its_answer_and_counts_once(
    client, north_key, account, card, pin
):
    _, token = north_key
    first = redeem(client, token, account.number, pin, "refused-once")
    again = redeem(client, token, account.number, pin, "refused-once")
    assert (first.status_code, first.json()) == (again.status_code, again.json())
    assert first.status_code == 422 and again["Idempotent-Replayed"] == "true"
    # The retry was not evaluated: one failure counts against the lockout, one audit row.
    assert RedemptionAttempt.objects.filter(outcome="failed").count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REDEMPTION_FAILED).count() == 1
    assert IdempotencyRecord.objects.get().status_code == 422


def test_an_idempotency_key_reused_for_another_request_is_409(client, north_key, account, card):
    _, token = north_key
    _, pin = card
    assert redeem(client, token, account.number, pin, "same").status_code == 201
    response = redeem(client, token, account.number, "000000000000", "same")
    assert response.status_code == 409
    assert response.json() == error_body("idempotency_key_reused")


def post_raw(client, token, body: str):
    """POST a body as it is, under a valid key and an idempotency key."""
    return client.post(
        REDEMPTIONS,
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "x"},
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"account": "1"}),
        json.dumps({"account": 5, "pin": 1}),
        json.dumps({"account": "", "pin": "1"}),
        json.dumps({"account": "1" * 33, "pin": "1"}),
        json.dumps({"account": "1", "pin": "1" * 65}),
    ],
)
def test_a_malformed_request_is_400_and_never_echoes_input(client, north_key, account, body):
    response = post_raw(client, north_key[1], body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["status"] == "invalid" and payload["errors"]
    assert "1" * 33 not in response.content.decode()
    assert not RedemptionAttempt.objects.exists()


@pytest.mark.parametrize("body", ["[]", "null", '"1234"', "5", "[{}]", "true"])
def test_a_json_body_that_is_not_an_object_is_told_so(client, north_key, account, body):
    response = post_raw(client, north_key[1], body)
    assert response.status_code == 400
    assert response.json() == error_body(
        "invalid", errors=[{"field": "body", "message": "Send a JSON object."}]
    )
    assert not RedemptionAttempt.objects.exists()


@pytest.mark.parametrize("idempotency_key", [None, "", "x" * 256, "with space"])
def test_a_missing_or_malformed_idempotency_key_is_400(
    client, north_key, account, card, idempotency_key
):
    _, token = north_key
    _, pin = card
    response = redeem(client, token, account.number, pin, idempotency_key)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["Idempotency-Key"]
    assert Card.objects.get().status == "new"


def test_the_balance(client, north_key, account):
    _, token = north_key
    response = client.get(balance_url(account.number), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"account": account.number, "balance": "25.00", "currency": "USD"}


def test_every_call_is_logged_without_pin_or_token(client, north_key, account, card, caplog):
    _, token = north_key
    _, pin = card
    with caplog.at_level(logging.INFO, logger="api.calls"):
        redeem(client, token, account.number, pin, "logged")
        redeem(client, token, account.number, "000000000000", "logged-2")
        redeem(client, "tk_000000000000_nope", account.number, pin, "logged-3")
        client.get(balance_url(account.number), headers={"Authorization": f"Bearer {token}"})
    lines = [r.getMessage() for r in caplog.records if r.name == "api.calls"]
    assert len(lines) == 4
    assert [line.split()[2] for line in lines] == ["201", "422", "401", "200"]
    # Calls past the key say which account they were for.
    assert [account.number in line for line in lines] == [True, True, False, True]
    assert "key=-" in lines[2] and f"key={north_key[0].public_id}" in lines[0]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert pin not in everything and token not in everything
    assert token.split("_", 2)[2] not in everything  # the secret may hold "_" itself


def test_operators_see_a_locked_key_and_lift_it(client, operator_client, north_key, tree, settings):
    settings.REDEEM_API_KEY_FAILURES = 2
    key, token = north_key
    accounts = [AccountFactory(reseller=tree["north"], user=None) for _ in range(3)]
    codes = [
        redeem(client, token, a.number, "000000000000", f"l{i}").status_code
        for i, a in enumerate(accounts)
    ]
    assert codes == [422, 422, 429]
    page = operator_client.get(reverse("topup:attempt-list")).content.decode()
    assert f'name="api_key" value="{key.public_id}"' in page
    response = operator_client.post(reverse("topup:lockout-lift"), {"api_key": key.public_id})
    assert response.status_code == 302
    assert redeem(client, token, accounts[2].number, "000000000000", "l9").status_code == 422
    lifted = AuditEvent.objects.get(action="lockout.lifted")
    assert lifted.details["api_key"] == key.public_id and lifted.details["lifted"] == 2


def test_old_answers_are_purged_and_a_late_retry_still_credits_nothing(
    client, north_key, account, card
):
    _, token = north_key
    _, pin = card
    assert redeem(client, token, account.number, pin, "old").status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(days=8))
    call_command("purge_idempotency_records", "--days", "7")
    assert not IdempotencyRecord.objects.exists()
    late = redeem(client, token, account.number, pin, "old")
    assert late.status_code == 200 and late.json()["status"] == "already_credited"
    account.refresh_from_db()
    assert account.balance == Decimal("35.00")
    with pytest.raises(CommandError):
        call_command("purge_idempotency_records", "--days", "0")
