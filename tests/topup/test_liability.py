"""The liability report, the home page and retention, checked against the cards and ledger."""

import csv
import io
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from billing.models import Account, Transaction
from resellers.models import AuditEvent
from tests.factories import AccountFactory, SeriesFactory, make_card
from topup import reports, services
from topup.models import Card, PurgedCards
from topup.pins import pin_service

REPORT = reverse("topup:liability-report")
REPORT_CSV = reverse("topup:liability-report-csv")
DASHBOARD = reverse("topup:dashboard")


def month_of(when: datetime):
    return when.astimezone(UTC).date().replace(day=1)


def in_month(now: datetime, back: int, day: int, hour: int = 12) -> datetime:
    """A moment `back` months before now's month, on `day`, away from month edges."""
    month = now.astimezone(UTC).date().replace(day=1)
    for _ in range(back):
        month = (month - timedelta(days=1)).replace(day=1)
    return datetime(month.year, month.month, day, hour, tzinfo=UTC)


@pytest.fixture
def history(tree):
    """Cards over the last six months in two currencies and three resellers, every state."""
    rng = random.Random(15)
    now = timezone.now()
    owners = [(tree["north"], "USD"), (tree["north_retail"], "USD"), (tree["south"], "EUR")]
    customers = {
        "USD": AccountFactory(reseller=tree["north_retail"], currency="USD"),
        "EUR": AccountFactory(reseller=tree["south"], currency="EUR"),
    }
    n = 0
    for back in range(6):
        for reseller, currency in owners:
            series = SeriesFactory(
                code=f"H{back}{reseller.pk}",
                reseller=reseller,
                currency=currency,
                amount=Decimal(rng.choice(["5.00", "10.00", "12.50"])),
            )
            created = in_month(now, back, 3)
            for _ in range(rng.randint(2, 5)):
                n += 1
                fate = rng.choice(
                    ["new", "new", "activated", "expired", "blocked", "late", "stock", "void"]
                )
                fields = {"number": f"{series.code}-{n:08d}", "created_at": created}
                if fate == "activated":
                    fields |= {
                        "status": "activated",
                        "activated_by": customers[currency],
                        "activated_at": min(
                            created + timedelta(days=rng.randint(1, 200)), now - timedelta(1)
                        ),
                    }
                elif fate == "expired":
                    fields["expires_at"] = min(
                        created + timedelta(days=rng.randint(5, 150)), now - timedelta(hours=2)
                    )
                elif fate == "late":  # expires later this month or after
                    fields["expires_at"] = now + timedelta(days=rng.randint(1, 90))
                elif fate in ("blocked", "void"):
                    fields["status"] = fate
                elif fate == "stock":
                    fields |= {"status": "in_stock", "released_at": None}
                else:
                    fields["expires_at"] = None
                make_card(series=series, **fields)
    # A few real redemptions now: the ledger has their credits.
    for currency, account in customers.items():
        for card in Card.objects.filter(currency=currency, status="new", expires_at=None)[:2]:
            pin = pin_service.decrypt(card.pin_encrypted, card.pin_key_version, card.number)
            result = services.card_redeem(account=account, typed_pin=pin, client_address="10.5.0.1")
            assert result.outcome == "success"
    return {"now": now, "customers": customers}


def expected_from_cards(cards, months, now) -> dict:
    """The report's figures, card by card, by (month, reseller id, currency)."""
    figures = defaultdict(lambda: dict.fromkeys(reports.FIGURES, Decimal("0.00")))
    for card in cards:
        created = month_of(card.created_at)
        for month in months:
            end = datetime.combine(reports.next_month(month), datetime.min.time(), tzinfo=UTC)
            row = figures[(month, card.reseller_id, card.currency)]
            if created == month and card.status != "in_stock":
                row["issued"] += card.amount
                if card.status in ("blocked", "void"):
                    row["blocked_void"] += card.amount
            if card.status == "activated" and month_of(card.activated_at) == month:
                row["redeemed"] += card.amount
            if (
                card.status == "new"
                and card.expires_at
                and card.expires_at <= now
                and month_of(card.expires_at) == month
            ):
                row["expired"] += card.amount
            live = card.status == "new" and (
                card.expires_at is None or card.expires_at > min(end, now)
            )
            unredeemed = card.status == "activated" and card.activated_at >= end
            if created <= month and (live or unredeemed):
                row["outstanding"] += card.amount
    return {key: row for key, row in figures.items() if any(row.values())}


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def shown(report) -> dict:
    return {
        (row.month, row.reseller.pk, row.currency): row.figures
        for row in report.by_reseller
        if any(row.figures.values())
    }


@pytest.mark.django_db
def test_report_figures_equal_sums_from_the_cards_and_the_ledger(tree, history):
    now = history["now"]
    report = reports.liability_report(tree["operator"], months=8, now=now)
    assert shown(report) == expected_from_cards(Card.objects.all(), report.months, now)
    # Totals are the resellers' rows added up, per month and currency.
    for total in report.totals:
        rows = [
            r for r in report.by_reseller if (r.month, r.currency) == (total.month, total.currency)
        ]
        for name in reports.FIGURES:
            assert total.figures[name] == sum((r.figures[name] for r in rows), Decimal("0.00"))
    # This month's redemptions: the ledger's top-up credits (real redemptions) plus the cards
    # the fixture activated earlier this month without going through the service.
    start = datetime.combine(month_of(now), datetime.min.time(), tzinfo=UTC)
    credits = Transaction.objects.filter(kind="topup_card", created_at__gte=start)
    credited_ids = [int(reference.split(":")[1]) for reference in
                    credits.values_list("reference", flat=True)]  # fmt: skip
    for currency in ("USD", "EUR"):
        ledger = credits.filter(account__currency=currency).aggregate(s=Sum("amount"))["s"]
        backdated = (
            Card.objects.filter(status="activated", currency=currency, activated_at__gte=start)
            .exclude(pk__in=credited_ids)
            .aggregate(s=Sum("amount"))["s"]
        )
        row = next(r for r in report.totals if (r.month, r.currency) == (month_of(now), currency))
        assert ledger > 0
        assert row.redeemed == ledger + (backdated or 0)


@pytest.mark.django_db
def test_a_reseller_user_sees_only_its_subtree(reseller_client, tree, history):
    report = reseller_client.get(REPORT).context["report"]
    owners = {row.reseller.pk for row in report.by_reseller}
    assert owners == {tree["north"].pk, tree["north_retail"].pk}
    assert {row.currency for row in report.totals} == {"USD"}
    rows = csv_rows(reseller_client.get(REPORT_CSV))
    assert rows and {row["reseller"] for row in rows} <= {"North", "North Retail"}


@pytest.mark.django_db
def test_the_page_draws_both_charts_and_the_csv_matches_the_table(operator_client, history):
    response = operator_client.get(REPORT, {"months": 6})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('<svg class="chart"') == 2 and "<script" not in page.split("</main>")[0]
    assert "Redemptions per day, last 30 days" in page
    report = response.context["report"]
    rows = csv_rows(operator_client.get(REPORT_CSV, {"months": 6}))
    assert len(rows) == len(report.by_reseller)
    # The header is for people (translated); "outstanding at month end" in English.
    assert sum(Decimal(row["outstanding at month end"]) for row in rows) == sum(
        r.outstanding for r in report.by_reseller
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"), [({"months": 0}, "months"), ({"months": "x"}, "months"),
                         ({"months": 37}, "months"), ({"reseller": 999999}, "reseller")],
)  # fmt: skip
def test_bad_report_choices_get_a_message_by_the_field(operator_client, history, query, field):
    response = operator_client.get(REPORT, query)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert response.context["report"] is None


@pytest.mark.django_db
def test_a_reseller_outside_the_scope_cannot_be_chosen(reseller_client, tree, history):
    response = reseller_client.get(REPORT, {"reseller": tree["south"].pk})
    assert response.context["form"].errors["reseller"]
    download = reseller_client.get(REPORT_CSV, {"reseller": tree["south"].pk})
    assert download["Content-Type"].startswith("text/html")  # the form with its error, no file
    assert download.context["form"].errors["reseller"] and download.context["report"] is None


@pytest.mark.django_db
def test_the_home_page_shows_today_owed_lockouts_and_expiring_series(
    operator_client, tree, history, settings
):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 2
    victim = AccountFactory(reseller=tree["north"], currency="USD")
    for _ in range(2):
        services.card_redeem(account=victim, typed_pin="000000000000", client_address="10.6.0.1")
    response = operator_client.get(DASHBOARD)
    figures = response.context["figures"]
    today = dict((c, v) for c, _, v in figures.redeemed_today)
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    for currency in ("USD", "EUR"):
        assert (
            today[currency]
            == Card.objects.filter(
                status="activated", currency=currency, activated_at__gte=start
            ).aggregate(s=Sum("amount"))["s"]
        )
    owed = {c: v for c, _, v in figures.outstanding}
    for currency in ("USD", "EUR"):
        assert owed[currency] == Card.objects.redeemable().filter(currency=currency).aggregate(
            s=Sum("amount"))["s"]  # fmt: skip
    assert [lock.account for lock in response.context["lockouts"]] == [victim]
    soonest = figures.expiring_series
    expiries = [s.next_expiry for s in soonest]
    assert expiries == sorted(expiries) and soonest
    assert expiries[0] == Card.objects.redeemable().exclude(expires_at=None).order_by(
        "expires_at").first().expires_at  # fmt: skip
    assert b"Active lockouts" in response.content


@pytest.mark.django_db
def test_staff_land_on_the_home_page(reseller_client, tree, history):
    response = reseller_client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == DASHBOARD
    owed = {c for c, _, _ in response.context["figures"].outstanding}
    assert owed == {"USD"}  # north's subtree only
    assert b"Active lockouts" not in response.content  # no right to see attempts


@pytest.mark.django_db
def test_retention_purges_old_cards_and_leaves_report_ledger_and_audit_unchanged(tree, history):
    now = history["now"]
    before = reports.liability_report(tree["operator"], months=8, now=now)
    ledger = list(Transaction.objects.order_by("pk").values())
    balances = dict(Account.objects.values_list("pk", "balance"))
    audit_before = AuditEvent.objects.count()
    cutoff = services.purge_cutoff(months=1, now=now)
    doomed = Card.objects.filter(services.purgeable(cutoff))
    doomed_ids = set(doomed.values_list("pk", flat=True))
    assert len(doomed_ids) >= 3 and Card.objects.exclude(pk__in=doomed_ids).exists()

    result = services.cards_purge(months=1, batch_size=2, now=now)

    assert result.purged == len(doomed_ids) and result.batches == (len(doomed_ids) + 1) // 2
    assert not Card.objects.filter(pk__in=doomed_ids).exists()
    assert PurgedCards.objects.aggregate(s=Sum("cards"))["s"] == len(doomed_ids)
    after = reports.liability_report(tree["operator"], months=8, now=now)
    assert shown(after) == shown(before)
    assert [(r.month, r.currency, r.figures) for r in after.totals] == [
        (r.month, r.currency, r.figures) for r in before.totals
    ]
    assert list(Transaction.objects.order_by("pk").values()) == ledger
    assert dict(Account.objects.values_list("pk", "balance")) == balances
    assert AuditEvent.objects.count() == audit_before + result.batches
    assert AuditEvent.objects.filter(action="cards.purged").count() == result.batches
    assert services.summary_differences() == []
    again = services.cards_purge(months=1, now=now)
    assert again.purged == 0


@pytest.mark.django_db
def test_the_retention_command_counts_purges_and_refuses_bad_input(tree, history):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = io.StringIO()
    call_command("purge_old_cards", "--months", "2", "--dry-run", stdout=out)
    count = int(out.getvalue().split()[0].replace(",", ""))
    assert count > 0 and Card.objects.count() > count
    total = Card.objects.count()
    call_command("purge_old_cards", "--months", "2", stdout=io.StringIO())
    assert Card.objects.count() == total - count
    with pytest.raises(CommandError, match="1 to 1200 months"):
        call_command("purge_old_cards", "--months", "0")
