"""The rows a redemption writes, exactly: attempts, ledger and audit, for the web page, support
and an API key."""

from decimal import Decimal

import pytest

from billing.models import Transaction
from resellers.models import AuditEvent
from tests.factories import AccountFactory, SeriesFactory, make_card
from topup import services
from topup.models import RedemptionAttempt


@pytest.mark.django_db
def test_the_rows_a_redemption_writes(tree, settings):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 2
    series = SeriesFactory(code="P", reseller=tree["north"], amount=Decimal("7.50"))
    card, pin = make_card(series=series, number="P-00000001")
    mine = AccountFactory(reseller=tree["north_retail"], currency="USD")
    other = AccountFactory(reseller=tree["north"], currency="USD")
    operator = tree["operator"]
    calls = [
        (mine, pin, "10.0.0.1", "", operator),  # credited by staff for the customer, with a note
        (mine, pin, "10.0.0.1", "", None),  # the same account again
        (other, pin, "10.0.0.2", "kEY1", None),  # another account, through an API key
        (other, "0000-0000-0000", "10.0.0.2", "kEY1", None),  # an unknown PIN
        (other, pin, "10.0.0.3", "", None),  # locked out: two failures of this account
    ]
    results = [
        services.card_redeem(
            account=account,
            typed_pin=typed,
            client_address=address,
            api_key=key,
            user=user,
            note="read over the phone" if user else "",
        )
        for account, typed, address, key, user in calls
    ]

    assert [(r.outcome, r.amount, r.balance, r.card_number) for r in results] == [
        ("success", Decimal("7.50"), Decimal("7.50"), "P-00000001"),
        ("already", Decimal("7.50"), Decimal("7.50"), "P-00000001"),
        ("failed", None, None, ""),
        ("failed", None, None, ""),
        ("locked", None, None, ""),
    ]
    assert results[-1].retry_after > 0
    card.refresh_from_db()
    mine.refresh_from_db()
    assert card.status == "activated" and card.activated_by == mine
    assert mine.balance == Decimal("7.50")
    assert list(
        Transaction.objects.values_list(
            "account", "amount", "balance_after", "kind", "description", "reference", "created_by"
        )
    ) == [
        (
            mine.pk,
            Decimal("7.50"),
            Decimal("7.50"),
            "topup_card",
            "Top-up card P-00000001",
            f"topup.card:{card.pk}",
            operator.pk,
        )
    ]
    assert list(
        RedemptionAttempt.objects.order_by("pk").values_list(
            "account", "client_address", "client_network", "api_key", "outcome", "reason",
            "card_number", "staff", "note",
        )
    ) == [
        (mine.pk, "10.0.0.1", "10.0.0.1", "", "success", "", "P-00000001", operator.pk,
         "read over the phone"),
        (mine.pk, "10.0.0.1", "10.0.0.1", "", "already", "already_own", "P-00000001", None, ""),
        (other.pk, "10.0.0.2", "10.0.0.2", "kEY1", "failed", "used_by_other", "P-00000001",
         None, ""),
        (other.pk, "10.0.0.2", "10.0.0.2", "kEY1", "failed", "unknown", "", None, ""),
    ]  # fmt: skip
    events = list(AuditEvent.objects.order_by("pk").values_list("action", "actor", "details"))
    assert events == [
        (
            "card.redeemed",
            operator.pk,
            {
                "account": mine.pk,
                "card": "P-00000001",
                "amount": "7.50",
                "currency": "USD",
                "note": "read over the phone",
            },
        ),
        (
            "card.redemption_failed",
            None,
            {
                "account": other.pk,
                "reason": "used_by_other",
                "card": "P-00000001",
                "address": "10.0.0.2",
                "api_key": "kEY1",
            },
        ),
        (
            "card.redemption_failed",
            None,
            {
                "account": other.pk,
                "reason": "unknown",
                "card": "",
                "address": "10.0.0.2",
                "api_key": "kEY1",
            },
        ),
    ]


@pytest.mark.django_db
def test_an_api_keys_success_is_audited_with_its_key(tree):
    card, pin = make_card(series=SeriesFactory(reseller=tree["north"]))
    account = AccountFactory(reseller=tree["north"], currency="USD")
    result = services.card_redeem(
        account=account, typed_pin=pin, client_address="10.0.0.9", api_key="k2"
    )
    assert result.outcome == "success"
    event = AuditEvent.objects.get(action="card.redeemed")
    assert event.details == {
        "account": account.pk,
        "api_key": "k2",
        "card": card.number,
        "amount": "10.00",
        "currency": "USD",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("api_key", ["", "k3"], ids=["web", "api"])
def test_one_failure_short_of_every_limit_a_right_pin_still_credits(tree, settings, api_key):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 2
    settings.REDEEM_ADDRESS_FAILURES = settings.REDEEM_API_KEY_FAILURES = 2
    card, pin = make_card(series=SeriesFactory(reseller=tree["north"]))
    account = AccountFactory(reseller=tree["north"], currency="USD")
    redeem = {"client_address": "10.0.0.7", "api_key": api_key}
    assert services.card_redeem(account=account, typed_pin="0" * 12, **redeem).outcome == "failed"
    assert services.card_redeem(account=account, typed_pin=pin, **redeem).outcome == "success"
    assert services.card_redeem(account=account, typed_pin="1" * 12, **redeem).outcome == "failed"
    assert services.card_redeem(account=account, typed_pin=pin, **redeem).outcome == "locked"
    assert list(RedemptionAttempt.objects.order_by("pk").values_list("outcome", "reason")) == [
        ("failed", "unknown"),
        ("success", ""),
        ("failed", "unknown"),
    ]


@pytest.mark.django_db
def test_an_error_while_a_failure_is_evaluated_leaves_it_counted(tree, monkeypatch):
    account = AccountFactory(reseller=tree["north"], currency="USD")

    def broken(**kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services.redemption, "refusal", broken)
    with pytest.raises(RuntimeError):
        services.card_redeem(account=account, typed_pin="0" * 12, client_address="10.0.0.8")
    attempt = RedemptionAttempt.objects.get()
    assert (attempt.outcome, attempt.reason) == ("failed", "error")
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REDEMPTION_FAILED).exists()
