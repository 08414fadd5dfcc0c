"""The wallet pages through the test client: scope, rights, forms, four eyes, statements."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from resellers.models import AuditEvent
from tests import factories
from wallets import services
from wallets.models import SeriesDiscount, Wallet, WalletEntry, WalletRequest

pytestmark = pytest.mark.django_db


def url(name, reseller, **query):
    path = reverse(f"wallets:{name}", args=[reseller.pk])
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def configure(tree, reseller, **fields):
    data = {
        "billing_mode": "prepaid",
        "discount": Decimal("10"),
        "credit_limit": Decimal("5000"),
        **fields,
    }
    return services.wallet_configure(actor=tree["operator"], reseller=reseller, **data)


def entries(wallet):
    return list(WalletEntry.objects.filter(wallet=wallet).order_by("pk"))


# --- Scope and rights ---------------------------------------------------------------------
def test_another_resellers_wallet_is_a_404_on_every_page(client, tree):
    configure(tree, tree["south"])
    client.force_login(tree["north_user"])
    for name in ("wallet-detail", "wallet-settings", "wallet-money", "wallet-statement",
                 "wallet-statement-csv", "wallet-statement-pdf"):  # fmt: skip
        assert client.get(url(name, tree["south"])).status_code == 404, name
    for name in ("wallet-settings", "wallet-series-discount", "wallet-money"):
        response = client.post(url(name, tree["south"]), {"amount": "1", "note": "x"})
        assert response.status_code == 404, name
    # ... and the root's (above the user) too.
    assert client.get(url("wallet-detail", tree["root"])).status_code == 404


def test_a_reseller_sees_its_own_wallet_read_only(client, tree):
    configure(tree, tree["north"])
    client.force_login(tree["north_user"])
    page = client.get(url("wallet-detail", tree["north"]))
    assert page.status_code == 200
    assert not page.context["can_configure"] and not page.context["can_post"]
    assert b"read-only" in page.content
    assert client.get(url("wallet-settings", tree["north"])).status_code == 403
    response = client.post(
        url("wallet-money", tree["north"]),
        {"kind": "topup", "direction": "credit", "amount": "100", "note": "gift"},
    )
    assert response.status_code == 403
    wallet = Wallet.objects.get(reseller=tree["north"])
    assert wallet.balance == 0 and entries(wallet) == []


def test_a_parent_reseller_manages_its_childs_wallet(client, tree):
    configure(tree, tree["north"], discount=Decimal("10"))
    client.force_login(tree["north_user"])
    response = client.post(
        url("wallet-settings", tree["north_retail"]),
        {"billing_mode": "consignment", "discount": "8", "credit_limit": "300"},
    )
    assert response.status_code == 302
    wallet = Wallet.objects.get(reseller=tree["north_retail"])
    assert (wallet.billing_mode, wallet.discount, wallet.credit_limit) == (
        "consignment",
        Decimal("8.00"),
        Decimal("300"),
    )
    page = client.get(url("wallet-detail", tree["north_retail"]))
    assert page.context["can_configure"] and page.context["can_post"]


def test_a_childs_discount_stays_within_its_parents_price(client, tree):
    configure(tree, tree["north"], discount=Decimal("10"))
    client.force_login(tree["north_user"])
    response = client.post(
        url("wallet-settings", tree["north_retail"]),
        {"billing_mode": "prepaid", "discount": "12", "credit_limit": "0"},
    )
    assert response.status_code == 200
    assert "below its cost" in str(response.context["form"].errors["discount"])
    assert "North buys at 10 % off" in response.content.decode()
    assert not Wallet.objects.filter(reseller=tree["north_retail"]).exists()
    # Allowed: the operator lets North sell below its cost.
    configure(tree, tree["north"], discount=Decimal("10"), may_sell_below_cost=True)
    response = client.post(
        url("wallet-settings", tree["north_retail"]),
        {"billing_mode": "prepaid", "discount": "12", "credit_limit": "0"},
    )
    assert response.status_code == 302
    assert Wallet.objects.get(reseller=tree["north_retail"]).discount == Decimal("12")


def test_a_user_without_the_right_is_refused(client, tree):
    configure(tree, tree["north"])
    user = factories.UserFactory(reseller=tree["root"])  # staff of the root, no group
    client.force_login(user)
    assert client.get(url("wallet-detail", tree["north"])).status_code == 403
    assert client.get(reverse("wallets:approval-list")).status_code == 403


@pytest.mark.parametrize(
    "fields",
    [
        {"billing_mode": "prepaid", "discount": "100.01", "credit_limit": "0"},
        {"billing_mode": "prepaid", "discount": "-1", "credit_limit": "0"},
        {"billing_mode": "prepaid", "discount": "5", "credit_limit": "1e999999"},
        {"billing_mode": "prepaid", "discount": "NaN", "credit_limit": "0"},
        {"billing_mode": "credit", "discount": "5", "credit_limit": "0"},
    ],
)
def test_bad_settings_are_refused_and_change_nothing(operator_client, tree, fields):
    response = operator_client.post(url("wallet-settings", tree["north"]), fields)
    assert response.status_code == 200 and response.context["form"].errors
    assert not Wallet.objects.filter(reseller=tree["north"]).exists()


def test_a_series_discount_is_set_and_removed(operator_client, tree):
    configure(tree, tree["north"])
    series = factories.SeriesFactory(code="501", reseller=tree["root"])
    response = operator_client.post(
        url("wallet-series-discount", tree["north"]), {"series": series.pk, "discount": "15"}
    )
    assert response.status_code == 302
    assert SeriesDiscount.objects.get(reseller=tree["north"], series=series).discount == 15
    operator_client.post(url("wallet-series-discount", tree["north"]), {"series": series.pk})
    assert not SeriesDiscount.objects.filter(reseller=tree["north"]).exists()


def test_a_series_outside_the_users_scope_cannot_be_chosen(client, tree):
    configure(tree, tree["north"], discount=Decimal("10"))
    south_series = factories.SeriesFactory(code="601", reseller=tree["south"])
    client.force_login(tree["north_user"])
    services.wallet_configure(
        actor=tree["north_user"], reseller=tree["north_retail"], billing_mode="prepaid",
        discount=Decimal("5"), credit_limit=Decimal("0"),
    )  # fmt: skip
    response = client.post(
        url("wallet-series-discount", tree["north_retail"]),
        {"series": south_series.pk, "discount": "5"},
    )
    assert response.status_code == 200 and "series" in response.context["series_form"].errors
    assert not SeriesDiscount.objects.exists()


# --- Money --------------------------------------------------------------------------------
def test_a_top_up_and_an_adjustment_post_entries_with_their_notes(operator_client, tree):
    wallet = configure(tree, tree["north"])
    response = operator_client.post(
        url("wallet-money", tree["north"]),
        {"kind": "topup", "direction": "credit", "amount": "2000", "note": "Bank transfer"},
    )
    assert response.status_code == 302
    operator_client.post(
        url("wallet-money", tree["north"]),
        {"kind": "adjustment", "direction": "debit", "amount": "150.50", "note": "Fee"},
    )
    wallet.refresh_from_db()
    rows = entries(wallet)
    assert [(e.kind, e.amount, e.note) for e in rows] == [
        ("topup", Decimal("2000"), "Bank transfer"),
        ("adjustment", Decimal("-150.50"), "Fee"),
    ]
    assert wallet.balance == Decimal("1849.50") == sum(e.amount for e in rows)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "topup", "direction": "debit", "amount": "10", "note": "x"},
        {"kind": "topup", "direction": "credit", "amount": "0", "note": "x"},
        {"kind": "topup", "direction": "credit", "amount": "10", "note": "   "},
        {"kind": "topup", "direction": "credit", "amount": "10.001", "note": "x"},
        {"kind": "adjustment", "direction": "debit", "amount": "5000.01", "note": "x"},
    ],
)
def test_bad_money_is_refused_and_changes_nothing(operator_client, tree, fields):
    wallet = configure(tree, tree["north"])  # limit 5,000, balance 0
    response = operator_client.post(url("wallet-money", tree["north"]), fields)
    assert response.status_code == 200 and response.context["form"].errors
    wallet.refresh_from_db()
    assert wallet.balance == 0 and entries(wallet) == []


def test_money_needs_a_wallet_first(operator_client, tree):
    response = operator_client.post(
        url("wallet-money", tree["north"]),
        {"kind": "topup", "direction": "credit", "amount": "10", "note": "x"},
    )
    assert response.status_code == 302
    assert not WalletEntry.objects.exists()


def test_four_eyes_above_the_setting_waits_for_another_person(client, tree, settings):
    settings.TOPUP_FOUR_EYES = True
    settings.WALLETS_FOUR_EYES_ABOVE = Decimal("1000")
    wallet = configure(tree, tree["north"])
    second = factories.operator(tree["root"], username="op2")
    client.force_login(tree["operator"])
    client.post(
        url("wallet-money", tree["north"]),
        {"kind": "topup", "direction": "credit", "amount": "500", "note": "small"},
    )
    client.post(
        url("wallet-money", tree["north"]),
        {"kind": "topup", "direction": "credit", "amount": "2500", "note": "large"},
    )
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("500")
    request = WalletRequest.objects.get()
    assert (request.state, request.amount, request.created_by) == (
        "pending",
        Decimal("2500"),
        tree["operator"],
    )
    assert AuditEvent.objects.filter(action="wallet.requested").count() == 1

    # Whoever asked may not approve it.
    response = client.post(reverse("wallets:approval-approve", args=[request.pk]), follow=True)
    assert "another person must approve it" in response.content.decode()
    request.refresh_from_db()
    assert request.state == "pending"

    # A reseller user of North cannot see it (its own wallet): 404.
    client.force_login(tree["north_user"])
    assert client.post(reverse("wallets:approval-approve", args=[request.pk])).status_code == 404

    client.force_login(second)
    page = client.get(reverse("wallets:approval-list"))
    assert list(page.context["object_list"]) == [request]
    client.post(reverse("wallets:approval-approve", args=[request.pk]))
    request.refresh_from_db()
    wallet.refresh_from_db()
    assert request.state == "approved" and request.decided_by == second
    assert request.entry.amount == Decimal("2500") and request.entry.created_by == second
    assert wallet.balance == Decimal("3000") == sum(e.amount for e in entries(wallet))
    # Decided once: a second approval posts nothing.
    client.post(reverse("wallets:approval-approve", args=[request.pk]))
    assert len(entries(wallet)) == 2


def test_a_rejected_request_moves_no_money(operator_client, tree, settings):
    settings.TOPUP_FOUR_EYES = True
    settings.WALLETS_FOUR_EYES_ABOVE = Decimal("1000")
    wallet = configure(tree, tree["north"])
    operator_client.post(
        url("wallet-money", tree["north"]),
        {"kind": "adjustment", "direction": "credit", "amount": "1500", "note": "oops"},
    )
    request = WalletRequest.objects.get()
    operator_client.post(reverse("wallets:approval-reject", args=[request.pk]))
    request.refresh_from_db()
    assert request.state == "rejected" and entries(wallet) == []


# --- Statements ---------------------------------------------------------------------------
def test_the_statement_shows_opening_rows_and_closing(operator_client, tree):
    wallet = configure(tree, tree["north"])
    op = tree["operator"]
    services.wallet_topup(wallet=wallet, amount=Decimal("2000"), note="=cmd()", by=op)
    services.wallet_adjust(wallet=wallet, amount=Decimal("-300"), note="Fee", by=op)
    today = timezone.localdate()
    page = operator_client.get(url("wallet-statement", tree["north"], start=today, end=today))
    statement = page.context["statement"]
    assert (statement.opening, statement.credits, statement.debits, statement.closing) == (
        0,
        Decimal("2000"),
        Decimal("-300"),
        Decimal("1700"),
    )
    assert [e.note for e in page.context["rows"]] == ["=cmd()", "Fee"]
    assert "$1,700.00" in page.content.decode()

    # Tomorrow's statement opens with today's closing balance and has no rows.
    tomorrow = today + timedelta(days=1)
    page = operator_client.get(url("wallet-statement", tree["north"], start=tomorrow, end=tomorrow))
    assert page.context["statement"].opening == Decimal("1700")
    assert page.context["statement"].count == 0

    response = operator_client.get(
        url("wallet-statement-csv", tree["north"], start=today, end=today)
    )
    body = b"".join(response.streaming_content).decode()
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[0][:2] == ["Date", "Kind"]
    assert lines[1][1] == "Opening balance" and Decimal(lines[1][5]) == 0
    assert lines[2][1:3] == ["Top-up", "'=cmd()"]  # never a formula in a spreadsheet
    assert lines[-1][1] == "Closing balance" and Decimal(lines[-1][5]) == Decimal("1700")

    response = operator_client.get(
        url("wallet-statement-pdf", tree["north"], start=today, end=today)
    )
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-05-10", "end": "2026-05-01"},
        {"start": "2020-01-01", "end": "2026-01-01"},
        {"start": "0001-01-01", "end": "0001-01-02"},
        {"start": "2026-02-30", "end": "2026-03-01"},
    ],
)
def test_a_bad_period_is_refused_with_a_message(operator_client, tree, query):
    configure(tree, tree["north"])
    for name in ("wallet-statement", "wallet-statement-csv", "wallet-statement-pdf"):
        response = operator_client.get(url(name, tree["north"], **query))
        assert response.status_code == 200 and response.context["form"].errors, name


def test_a_reseller_reads_its_own_statement(client, tree):
    wallet = configure(tree, tree["north"])
    services.wallet_topup(wallet=wallet, amount=Decimal("10"), note="x", by=tree["operator"])
    client.force_login(tree["north_user"])
    page = client.get(url("wallet-statement", tree["north"]))
    assert page.status_code == 200 and page.context["statement"].closing == Decimal("10")
