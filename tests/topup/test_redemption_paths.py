"""The one-statement redemption (PostgreSQL) and the step-by-step one (other databases) write
the same rows: the same scenario, the same expectations, on both paths."""

from decimal import Decimal

import pytest

from billing.models import Transaction
from resellers.models import AuditEvent
from tests.factories import AccountFactory, SeriesFactory, make_card
from topup import services
from topup.models import RedemptionAttempt


@pytest.mark.django_db
@pytest.mark.parametrize("one_statement", [True, False], ids=["one-statement", "step-by-step"])
def test_both_paths_write_the_same_rows(tree, settings, monkeypatch, one_statement):
    monkeypatch.setattr(services.redemption, "one_statement_supported", lambda: one_statement)
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
@pytest.mark.parametrize("one_statement", [True, False], ids=["one-statement", "step-by-step"])
def test_an_api_keys_success_is_audited_with_its_key(tree, monkeypatch, one_statement):
    monkeypatch.setattr(services.redemption, "one_statement_supported", lambda: one_statement)
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
