"""The Customers section: accounts with their login, the redeem right, manual adjustments."""

import random
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db.models import Sum
from django.urls import reverse

from billing.models import Account, Transaction
from billing.services import account_adjust
from resellers.models import AuditEvent, User
from resellers.services import reseller_set_active
from tests.factories import AccountFactory, SeriesFactory, make_card
from tests.topup.test_redemption import run_in_threads
from topup import services as topup_services

OPEN = reverse("billing:account-open")


def open_account(client, **fields):
    data = {"name": "Dora Diaz", "username": "dora", "currency": "", "first_name": "Dora"}
    data.update(fields)
    return client.post(OPEN, data)


@pytest.mark.django_db
def test_a_reseller_user_opens_an_account_with_a_login_that_redeems(client, tree):
    card, pin = make_card(series=SeriesFactory(code="C1", reseller=tree["north"]), number="C1-1")
    client.force_login(tree["north_user"])
    response = open_account(client, reseller=tree["north_retail"].pk)
    assert response.status_code == 200
    account = Account.objects.get(name="Dora Diaz")
    assert (account.reseller, account.currency) == (tree["north_retail"], "USD")
    assert account.number and account.number in response.content.decode()
    password = response.context["password"]
    user = User.objects.get(username="dora")
    assert account.user == user and user.must_change_password and user.reseller is None
    assert user.groups.filter(name="Customers").exists()
    assert AuditEvent.objects.get(action="account.opened").details["number"] == account.number

    client.logout()
    client.login(username="dora", password=password)
    fresh = "Dora-own-pass-77"
    change = {"old_password": password, "new_password1": fresh, "new_password2": fresh}
    client.post(reverse("password_change"), change)
    client.post(reverse("topup:payment-gateways"), {"pin": pin})
    account.refresh_from_db()
    assert account.balance == Decimal("10.00")


@pytest.mark.django_db
def test_opening_refuses_by_field_and_changes_nothing(client, tree):
    client.force_login(tree["north_user"])
    sibling = open_account(client, reseller=tree["south"].pk)
    assert "reseller" in sibling.context["form"].errors
    taken = open_account(client, reseller=tree["north"].pk, username="SouthUser")
    assert "username" in taken.context["form"].errors
    bad = open_account(client, reseller=tree["north"].pk, currency="XYZ", name=" ")
    assert {"currency", "name"} <= set(bad.context["form"].errors)
    reseller_set_active(actor=tree["operator"], reseller=tree["north_retail"], active=False)
    inactive = open_account(client, reseller=tree["north_retail"].pk)
    assert "reseller" in inactive.context["form"].errors
    assert not Account.objects.exists()
    assert not User.objects.filter(username="dora").exists()


@pytest.mark.django_db
def test_search_by_number_name_or_user_within_scope(client, tree):
    mine = AccountFactory(reseller=tree["north_retail"], name="Ella Eriksen")
    AccountFactory(reseller=tree["north"], name="Other Person")
    theirs = AccountFactory(reseller=tree["south"], name="Ella Sibling")
    client.force_login(tree["north_user"])
    url = reverse("billing:account-list")

    def found(q):
        return {a.pk for a in client.get(url, {"q": q}).context["object_list"]}

    assert found("ella") == {mine.pk}
    assert found(mine.number[:6]) >= {mine.pk}
    assert found(mine.number) == {mine.pk}
    assert found(mine.user.username) == {mine.pk}
    assert found(theirs.number) == set()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, method",
    [
        ("billing:account-detail", "get"),
        ("billing:account-redeem-right", "post"),
        ("billing:account-adjust", "get"),
        ("billing:account-adjust", "post"),
    ],
)
def test_a_siblings_account_is_a_404_for_every_action(client, tree, name, method):
    theirs = AccountFactory(reseller=tree["south"])
    Group.objects.get(name="Reseller users").permissions.add(
        *Group.objects.get(name="Operators").permissions.all()
    )
    client.force_login(tree["north_user"])
    data = {"allowed": "0", "direction": "credit", "amount": "5", "note": "x"}
    assert getattr(client, method)(reverse(name, args=[theirs.pk]), data).status_code == 404
    assert theirs.user.groups.filter(name="Customers").exists()
    assert not Transaction.objects.filter(account=theirs).exists()


@pytest.mark.django_db
def test_revoke_and_grant_the_redeem_right(client, tree, customer):
    url = reverse("billing:account-redeem-right", args=[customer.pk])
    client.force_login(tree["north_user"])
    client.post(url, {"allowed": "0"})
    client.force_login(customer.user)
    assert client.get(reverse("topup:payment-gateways")).status_code == 403
    client.force_login(tree["north_user"])
    page = client.get(reverse("billing:account-detail", args=[customer.pk])).content.decode()
    assert "Grant the redeem right" in page
    client.post(url, {"allowed": "1"})
    client.force_login(customer.user)
    assert client.get(reverse("topup:payment-gateways")).status_code == 200
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["account.redeem_revoked", "account.redeem_granted"]


@pytest.mark.django_db
def test_account_page_shows_balance_ledger_and_attempts(client, tree, customer):
    topup_services.card_redeem(
        account=customer, typed_pin="000000000000", client_address="10.9.9.9"
    )
    client.force_login(tree["operator"])
    page = client.get(reverse("billing:account-detail", args=[customer.pk])).content.decode()
    assert "5.00" in page and "Opening balance" in page
    assert "10.9.9.9" in page and "unknown" in page


@pytest.mark.django_db
def test_manual_credit_and_refused_debit(client, tree, customer):
    url = reverse("billing:account-adjust", args=[customer.pk])
    client.force_login(tree["north_user"])
    assert client.get(url).status_code == 403  # a separate right, operators only
    client.force_login(tree["operator"])
    client.post(url, {"direction": "credit", "amount": "12.50", "note": "Goodwill for outage"})
    customer.refresh_from_db()
    assert customer.balance == Decimal("17.50")
    row = customer.transactions.first()
    assert (row.kind, row.amount, row.description, row.created_by) == (
        "manual_payment",
        Decimal("12.50"),
        "Goodwill for outage",
        tree["operator"],
    )
    refused = client.post(url, {"direction": "debit", "amount": "20.00", "note": "Fee"})
    assert "below zero" in refused.context["form"].errors["amount"][0]
    missing = client.post(url, {"direction": "debit", "amount": "-1", "note": ""})
    assert {"amount", "note"} <= set(missing.context["form"].errors)
    client.post(url, {"direction": "debit", "amount": "7.50", "note": "Fee"})
    customer.refresh_from_db()
    assert customer.balance == Decimal("10.00")
    assert customer.transactions.count() == 3
    assert AuditEvent.objects.filter(action="account.balance_adjusted").count() == 2


@pytest.mark.django_db(transaction=True)
def test_adjustments_racing_redemptions_keep_balance_equal_to_the_ledger(tree):
    account = AccountFactory(reseller=tree["north"], currency="USD")
    series = SeriesFactory(code="RACE", reseller=tree["north"], amount=Decimal("3.00"))
    cards = [make_card(series=series, number=f"RACE-{i}") for i in range(12)]
    op = tree["operator"]
    rng = random.Random(13)
    calls = [
        (
            topup_services.card_redeem,
            {"account": account, "typed_pin": pin, "client_address": f"10.2.0.{i}"},
        )
        for i, (_, pin) in enumerate(cards)
    ]
    for i in range(12):
        direction = "credit" if i % 3 else "debit"
        amount = Decimal(rng.choice(["1.00", "2.50", "4.00"]))
        calls.append(
            (
                _adjust_or_refused,
                {"actor": op, "account": account, "direction": direction, "amount": amount},
            )
        )
    rng.shuffle(calls)
    results = run_in_threads(calls)

    account.refresh_from_db()
    ledger = account.transactions.aggregate(s=Sum("amount"))["s"] or Decimal("0")
    assert account.balance == ledger >= 0
    redeemed = [r for r in results if getattr(r, "outcome", None) == "success"]
    assert len(redeemed) == 12
    for card, _ in cards:
        card.refresh_from_db()
        assert (card.status, card.activated_by_id) == ("activated", account.pk)
    adjustments = account.transactions.filter(kind__in=["manual_payment", "manual_charge"])
    assert adjustments.count() == sum(1 for r in results if r == "posted")
    running = Decimal("0")
    for row in account.transactions.order_by("pk"):
        running += row.amount
        assert row.balance_after == running


def _adjust_or_refused(**kwargs):
    from django.core.exceptions import ValidationError

    try:
        account_adjust(note="race", **kwargs)
    except ValidationError:
        return "refused"
    return "posted"
