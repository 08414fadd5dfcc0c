import random
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from billing.models import Account, Transaction
from resellers.models import AuditEvent
from tests.factories import AccountFactory, SeriesFactory, make_card
from topup import services
from topup.models import Card, RedemptionAttempt
from topup.views.redemption import PaymentGatewaysView

GATEWAY = reverse("topup:payment-gateways")


def run_in_threads(calls):
    """Run each (function, kwargs) in its own thread and connection, all released at once."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = []

    def work(i, fn, kwargs):
        try:
            barrier.wait()
            results[i] = fn(**kwargs)
        except Exception as exc:  # reported below, so a failing thread fails the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, fn, kw)) for i, (fn, kw) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def ledger_matches(account) -> bool:
    account.refresh_from_db()
    total = account.transactions.aggregate(s=Sum("amount"))["s"] or Decimal("0")
    return account.balance == total


@pytest.fixture
def north_card(tree):
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("10.00"))
    return make_card(series=series, number="101-00000001")


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_redemptions_of_one_pin_credit_once(tree, north_card):
    card, pin = north_card
    accounts = [AccountFactory(reseller=tree["north"], currency="USD") for _ in range(10)]
    calls = [
        (
            services.card_redeem,
            {"account": accounts[i % 10], "typed_pin": pin, "client_address": f"10.1.0.{i}"},
        )
        for i in range(50)
    ]
    results = run_in_threads(calls)
    outcomes = [r.outcome for r in results]
    assert outcomes.count("success") == 1
    winner = accounts[outcomes.index("success") % 10]
    assert Transaction.objects.filter(kind="topup_card").count() == 1
    assert Transaction.objects.get(kind="topup_card").account_id == winner.pk
    balances = {a.pk: Account.objects.get(pk=a.pk).balance for a in accounts}
    assert sorted(balances.values()) == [Decimal("0.00")] * 9 + [Decimal("10.00")]
    card.refresh_from_db()
    assert (card.status, card.activated_by_id) == ("activated", winner.pk)
    assert all(ledger_matches(a) for a in accounts)


@pytest.mark.django_db(transaction=True)
def test_random_concurrent_redemptions_keep_every_invariant(tree, settings):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 1000
    settings.REDEEM_ACCOUNT_FAILURES_LONG = 1000
    settings.REDEEM_ADDRESS_FAILURES = 1000
    rng = random.Random(7)
    usd = SeriesFactory(code="1", reseller=tree["north"], amount=Decimal("3.50"))
    eur = SeriesFactory(code="2", reseller=tree["south"], amount=Decimal("5.00"), currency="EUR")
    pins = [make_card(series=usd, number=f"1-{n:08d}")[1] for n in range(30)]
    pins += [make_card(series=eur, number=f"2-{n:08d}")[1] for n in range(15)]
    pins += ["000000000000", "123-456"]  # unknown and malformed
    accounts = [AccountFactory(reseller=tree["north_retail"], currency="USD") for _ in range(6)]
    accounts += [AccountFactory(reseller=tree["south"], currency="EUR") for _ in range(4)]

    def burst(seed):
        local = random.Random(seed)
        return [
            services.card_redeem(
                account=local.choice(accounts),
                typed_pin=local.choice(pins),
                client_address="10.2.0.1",
            ).outcome
            for _ in range(40)
        ]

    results = run_in_threads([(burst, {"seed": rng.random()}) for _ in range(8)])
    outcomes = [o for batch in results for o in batch]
    assert len(outcomes) == 320 and "locked" not in outcomes
    assert 0 < outcomes.count("success") <= 45
    for account in accounts:
        assert ledger_matches(account)
    activated = Card.objects.filter(status="activated").aggregate(s=Sum("amount"))["s"]
    credited = Transaction.objects.filter(kind="topup_card").aggregate(s=Sum("amount"))["s"]
    assert activated == credited
    assert Transaction.objects.filter(kind="topup_card").count() == outcomes.count("success")


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_wrong_pins_get_at_most_five_evaluations(tree):
    account = AccountFactory(reseller=tree["north"])
    calls = [
        (
            services.card_redeem,
            {"account": account, "typed_pin": f"{i:012d}", "client_address": "10.3.0.1"},
        )
        for i in range(50)
    ]
    outcomes = [r.outcome for r in run_in_threads(calls)]
    assert outcomes.count("failed") <= 5
    assert outcomes.count("locked") >= 45
    assert RedemptionAttempt.objects.filter(account=account).count() == outcomes.count("failed")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reason", "setup"),
    [
        ("expired", lambda card, tree: Card.objects.filter(pk=card.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1))),
        ("blocked", lambda card, tree: Card.objects.filter(pk=card.pk).update(status="blocked")),
        ("foreign_reseller", lambda card, tree: Card.objects.filter(pk=card.pk).update(
            reseller=tree["south"])),
        ("foreign_currency", lambda card, tree: Card.objects.filter(pk=card.pk).update(
            currency="EUR")),
        ("unknown", lambda card, tree: Card.objects.filter(pk=card.pk).delete()),
    ],
)  # fmt: skip
def test_refusals_show_the_generic_message_and_log_the_reason(
    customer_client, customer, tree, north_card, reason, setup
):
    card, pin = north_card
    setup(card, tree)
    response = customer_client.post(GATEWAY, {"pin": pin})
    assert response.status_code == 200
    assert str(PaymentGatewaysView.GENERIC_REFUSAL) in response.content.decode()
    # The typed PIN is kept for correcting, in the field only (issue 25).
    assert response.content.decode().count(pin) == 1
    assert f'value="{pin}"' in response.content.decode()
    attempt = RedemptionAttempt.objects.get()
    assert (attempt.outcome, attempt.reason) == ("failed", reason)
    customer.refresh_from_db()
    assert customer.balance == Decimal("5.00")
    event = AuditEvent.objects.get(action="card.redemption_failed")
    assert event.details["reason"] == reason


@pytest.mark.django_db
def test_used_by_someone_else_is_refused_like_the_rest(customer_client, customer, tree, north_card):
    card, pin = north_card
    other = AccountFactory(reseller=tree["north"])
    assert (
        services.card_redeem(account=other, typed_pin=pin, client_address="1.1.1.1").outcome
        == "success"
    )
    response = customer_client.post(GATEWAY, {"pin": pin})
    assert str(PaymentGatewaysView.GENERIC_REFUSAL) in response.content.decode()
    assert RedemptionAttempt.objects.filter(account=customer).get().reason == "used_by_other"


@pytest.mark.django_db
def test_success_shows_amount_and_balance_and_a_resubmit_says_already_credited(
    customer_client, customer, north_card
):
    card, pin = north_card
    spaced = f"{pin[:4]} {pin[4:8]}-{pin[8:]}"
    response = customer_client.post(GATEWAY, {"pin": spaced}, follow=True)
    text = response.content.decode()
    assert "$10.00 added to your balance. New balance: $15.00." in text
    assert 'data-testid="balance">$15.00<' in text
    again = customer_client.post(GATEWAY, {"pin": pin}, follow=True).content.decode()
    assert "already credited to your account" in again
    customer.refresh_from_db()
    assert customer.balance == Decimal("15.00")
    assert customer.transactions.filter(kind="topup_card").count() == 1
    row = customer.transactions.get(kind="topup_card")
    assert (row.amount, row.description) == (Decimal("10.00"), "Top-up card 101-00000001")
    card.refresh_from_db()
    assert card.status == "activated" and card.activated_by == customer


@pytest.mark.django_db
def test_a_card_of_a_parent_reseller_is_redeemable_by_a_sub_resellers_customer(tree):
    card, pin = make_card(series=SeriesFactory(reseller=tree["root"]))
    account = AccountFactory(reseller=tree["north_retail"])
    assert (
        services.card_redeem(account=account, typed_pin=pin, client_address="1.1.1.1").outcome
        == "success"
    )


@pytest.mark.django_db
def test_a_failure_inside_the_transaction_leaves_card_and_balance_unchanged(
    customer, north_card, monkeypatch
):
    card, pin = north_card
    credit = services.redemption.statement.credit

    def broken(*args, **kwargs):
        assert credit(*args, **kwargs).credited.outcome == "success"  # credited, then disk full
        raise RuntimeError("ledger disk full")

    monkeypatch.setattr(services.redemption.statement, "credit", broken)
    with pytest.raises(RuntimeError):
        services.card_redeem(account=customer, typed_pin=pin, client_address="1.1.1.1")
    card.refresh_from_db()
    customer.refresh_from_db()
    assert card.status == "new" and card.activated_by is None
    assert customer.balance == Decimal("5.00") and ledger_matches(customer)
    assert RedemptionAttempt.objects.get().reason == "error"


@pytest.mark.django_db
def test_a_locked_request_answers_429_with_retry_after_and_is_not_evaluated(
    customer_client, customer, north_card
):
    card, pin = north_card
    for i in range(5):
        assert customer_client.post(GATEWAY, {"pin": f"99999999{i:04d}"}).status_code == 200
    locked = customer_client.post(GATEWAY, {"pin": pin})
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    assert "Too many failed attempts" in locked.content.decode()
    card.refresh_from_db()
    assert card.status == "new"
    assert RedemptionAttempt.objects.count() == 5


@pytest.mark.django_db
def test_the_address_limit_holds_across_accounts(tree, settings):
    settings.REDEEM_ADDRESS_FAILURES = 3
    accounts = [AccountFactory(reseller=tree["north"]) for _ in range(4)]
    outcomes = [
        services.card_redeem(account=a, typed_pin="000011112222", client_address="10.9.9.9").outcome
        for a in accounts
    ]
    assert outcomes == ["failed", "failed", "failed", "locked"]


@pytest.mark.django_db
def test_operators_see_lockouts_and_can_lift_them(operator_client, customer, north_card, tree):
    for i in range(5):
        services.card_redeem(account=customer, typed_pin=f"{i:012d}", client_address="10.4.0.1")
    assert (
        services.card_redeem(account=customer, typed_pin="1", client_address="10.4.0.2").outcome
        == "locked"
    )
    page = operator_client.get(reverse("topup:attempt-list"))
    assert [lock.account for lock in page.context["lockouts"]] == [customer]
    response = operator_client.post(reverse("topup:lockout-lift"), {"account": customer.pk})
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="lockout.lifted").details["lifted"] == 5
    card, pin = north_card
    assert (
        services.card_redeem(account=customer, typed_pin=pin, client_address="10.4.0.1").outcome
        == "success"
    )


@pytest.mark.django_db
def test_reseller_users_cannot_see_attempts_or_lift(reseller_client, customer):
    assert reseller_client.get(reverse("topup:attempt-list")).status_code == 403
    assert (
        reseller_client.post(reverse("topup:lockout-lift"), {"account": customer.pk}).status_code
        == 403
    )


@pytest.mark.django_db
def test_the_attempt_and_audit_logs_never_contain_a_pin(customer, north_card, tree):
    card, pin = north_card
    typed = [pin, pin, "123456789012", "55555555 5555"]
    for t in typed:
        services.card_redeem(account=customer, typed_pin=t, client_address="10.5.0.1")
    stored = [str(row) for row in RedemptionAttempt.objects.values_list()] + [
        str(e.details) for e in AuditEvent.objects.all()
    ]
    for t in [pin, "123456789012", "555555555555", "55555555 5555"]:
        assert not any(t in s for s in stored)
    assert RedemptionAttempt.objects.count() == 4


@pytest.mark.django_db
def test_customers_without_the_right_get_403(client, customer):
    customer.user.groups.clear()
    client.force_login(customer.user)
    assert client.get(GATEWAY).status_code == 403
    customer.user.user_permissions.add(Permission.objects.get(codename="redeem_card"))
    assert client.get(GATEWAY).status_code == 200


@pytest.mark.django_db
def test_balance_and_transactions_pages(customer_client, customer):
    assert (
        'data-testid="balance">5.00'
        in customer_client.get(reverse("billing:balance")).content.decode()
    )
    page = customer_client.get(reverse("billing:transaction-list")).content.decode()
    assert "Opening balance" in page


@pytest.mark.django_db
def test_a_typed_pin_is_hidden_from_error_reports(
    customer_client, customer, north_card, monkeypatch
):
    from django.views.debug import SafeExceptionReporterFilter

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    card, pin = north_card
    monkeypatch.setattr(services.redemption.statement, "credit", explode)
    customer_client.raise_request_exception = False
    response = customer_client.post(GATEWAY, {"pin": pin})
    assert response.status_code == 500
    cleaned = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert cleaned["pin"] != pin and set(cleaned["pin"]) == {"*"}
    card.refresh_from_db()
    assert card.status == "new"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data", [{"account": "999999"}, {"address": "nope"}, {"address": "10.0.0.9"}, {}]
)
def test_lifting_an_unknown_lockout_is_a_404(operator_client, customer, data):
    assert operator_client.post(reverse("topup:lockout-lift"), data).status_code == 404
    assert not AuditEvent.objects.filter(action="lockout.lifted").exists()
