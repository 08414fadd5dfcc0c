"""The card summary stays equal to a full count of the cards, whatever writes them."""

import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.factories import AccountFactory, generate
from tests.topup.test_redemption import run_in_threads
from topup import services
from topup.models import Card, CardSummary
from topup.pins import pin_service
from topup.selectors import card_totals, summary_totals

LIST = reverse("topup:card-list")


def counted_by_group() -> Counter:
    """Cards by series, reseller, status and currency, counted independently of the summary."""
    rows = Card.objects.values_list("series_id", "reseller_id", "status", "currency")
    return Counter(rows)


def summed_by_group() -> Counter:
    totals = Counter()
    for row in CardSummary.objects.values(
        "series_id", "reseller_id", "status", "currency", "cards"
    ):
        totals[(row["series_id"], row["reseller_id"], row["status"], row["currency"])] += row[
            "cards"
        ]
    return +totals  # drop keys whose rows cancel out


def assert_summary_exact():
    assert summed_by_group() == counted_by_group()
    assert services.summary_differences() == []
    assert summary_totals(CardSummary.objects.all()) | {"rows": 0} == card_totals(
        Card.objects.all()
    ) | {"rows": 0}


def pins_of(series) -> list[str]:
    return [
        pin_service.decrypt(token, version, number)
        for number, token, version in Card.objects.filter(series=series).values_list(
            "number", "pin_encrypted", "pin_key_version"
        )
    ]


@pytest.mark.django_db(transaction=True)
def test_random_generation_edits_deletes_and_concurrent_redemptions_keep_it_exact(tree, settings):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 10_000
    settings.REDEEM_ACCOUNT_FAILURES_LONG = 10_000
    settings.REDEEM_ADDRESS_FAILURES = 10_000
    operator = tree["operator"]
    later = timezone.now() + timedelta(days=60)
    usd_a = generate(operator, tree["north"], quantity=40, code="A", expires_at=later)
    usd_b = generate(operator, tree["north_retail"], quantity=30, code="B", amount=Decimal("2.50"))
    eur = generate(operator, tree["south"], quantity=30, code="E", amount=Decimal("7.00"))
    pins = pins_of(usd_a) + pins_of(usd_b) + pins_of(eur)
    accounts = [AccountFactory(reseller=tree["north_retail"], currency="USD") for _ in range(3)]
    accounts += [AccountFactory(reseller=tree["south"], currency="EUR") for _ in range(2)]
    assert_summary_exact()

    def redeem(seed):
        rng = random.Random(seed)
        for _ in range(25):
            services.card_redeem(
                account=rng.choice(accounts),
                typed_pin=rng.choice(pins),
                client_address=f"10.9.{seed % 200}.1",
            )

    def edit_and_delete(seed):
        rng = random.Random(seed)
        for _ in range(12):
            cards = Card.objects.filter(pk__in=rng.sample(list(Card.objects.values_list(
                "pk", flat=True)), 8))  # fmt: skip
            action = rng.choice(["block", "unblock", "expire", "extend", "clear", "move", "delete"])
            if action == "delete":
                services.cards_delete(user=operator, cards=cards, selection={})
                continue
            edit = {
                "block": services.MassEdit(status_mode="block"),
                "unblock": services.MassEdit(status_mode="unblock"),
                "expire": services.MassEdit(
                    expiry_mode="set", expires_at=timezone.now() - timedelta(hours=1)
                ),
                "extend": services.MassEdit(expiry_mode="set", expires_at=later),
                "clear": services.MassEdit(expiry_mode="clear"),
                "move": services.MassEdit(reseller_mode="set", reseller=tree["north"]),
            }[action]
            if action == "move":  # a company takes cards of its own currency only
                cards = cards.filter(currency=tree["north"].currency)
            services.cards_mass_update(user=operator, cards=cards, edit=edit, selection={})
        last = Card.objects.exclude(status="activated").order_by("?")[:5]
        services.cards_mass_update(
            user=operator,
            cards=Card.objects.filter(pk__in=list(last.values_list("pk", flat=True))),
            edit=services.MassEdit(status_mode="block"),
            selection={},
        )

    def compact(seed):
        for _ in range(10):
            services.summary_compact()

    def more_series(seed):
        for i in range(3):
            generate(operator, tree["north"], quantity=20, code=f"G{i}")

    run_in_threads(
        [(redeem, {"seed": s}) for s in range(4)]
        + [(edit_and_delete, {"seed": 99}), (compact, {"seed": 0}), (more_series, {"seed": 0})]
    )
    assert Card.objects.filter(status="activated").exists()
    assert Card.objects.filter(status="blocked").exists()
    assert_summary_exact()
    services.summary_compact()
    assert CardSummary.objects.filter(cards=0).count() == 0
    assert_summary_exact()


@pytest.mark.django_db
def test_hand_written_sql_and_copy_keep_it_exact(tree):
    """Statements that bypass the services (a chunked UPDATE, a DELETE) are counted too."""
    series = generate(tree["operator"], tree["north"], quantity=12, code="R")
    assert_summary_exact()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE topup_card SET status = 'blocked', reseller_id = %s"
            " WHERE id IN (SELECT id FROM topup_card WHERE series_id = %s ORDER BY id LIMIT 5)",
            [tree["south"].pk, series.pk],
        )
        cursor.execute(
            "UPDATE topup_card SET expires_at = now() - interval '1 day' WHERE series_id = %s"
            " AND status = 'new'",
            [series.pk],
        )
        cursor.execute("DELETE FROM topup_card WHERE id = (SELECT max(id) FROM topup_card)")
    assert Card.objects.count() == 11
    assert_summary_exact()
    totals = summary_totals(CardSummary.objects.all())
    assert (totals["blocked_count"], totals["expired_count"], totals["new_count"]) == (5, 6, 0)


@pytest.mark.django_db
def test_compaction_folds_rows_and_keeps_every_total(tree):
    for _ in range(3):
        generate(tree["operator"], tree["north"], quantity=5, code="C")
    Card.objects.filter(number__endswith="1").update(status="blocked")
    Card.objects.filter(number__endswith="1").update(status="new")
    before = summary_totals(CardSummary.objects.all())
    rows_before = CardSummary.objects.count()
    folded = services.summary_compact()
    assert folded > 0 and CardSummary.objects.count() == rows_before - folded
    assert CardSummary.objects.count() == 3  # one row per series: every other key cancelled
    assert summary_totals(CardSummary.objects.all()) | {"rows": 0} == before | {"rows": 0}
    assert_summary_exact()


@pytest.mark.django_db
def test_a_card_list_read_over_many_delta_rows_has_them_folded(operator_client, tree, settings):
    """The card list (not the read itself) asks the worker to compact; tests run it at once."""
    for _ in range(3):
        generate(tree["operator"], tree["north"], quantity=5, code="C")
    Card.objects.filter(number__endswith="1").update(status="blocked")
    rows_before = CardSummary.objects.count()
    settings.TOPUP_SUMMARY_COMPACT_ROWS = rows_before + 1
    assert operator_client.get(LIST).status_code == 200
    assert CardSummary.objects.count() == rows_before  # few rows: nothing queued
    settings.TOPUP_SUMMARY_COMPACT_ROWS = 1
    response = operator_client.get(LIST)
    assert response.context["totals"]["count"] == 15
    assert CardSummary.objects.count() < rows_before
    assert_summary_exact()


@pytest.mark.django_db
def test_the_rebuild_command_reports_a_difference_and_repairs_it(tree):
    series = generate(tree["operator"], tree["north"], quantity=4, code="D")
    call_command("summary_rebuild", "--check")  # matches: no error
    row = CardSummary.objects.filter(series=series).first()
    CardSummary.objects.create(
        **{name: getattr(row, name) for name in CardSummary.KEY}, cards=3
    )  # a corrupted summary: three cards too many
    with pytest.raises(CommandError, match="1 key"):
        call_command("summary_rebuild", "--check")
    out = _output("summary_rebuild")
    assert "summary 7, cards 4" in out and "rebuilt" in out
    assert "matches" in _output("summary_rebuild", "--check")
    assert_summary_exact()


def _output(*args) -> str:
    import io

    buffer = io.StringIO()
    call_command(*args, stdout=buffer)
    return buffer.getvalue()


@pytest.mark.django_db
def test_the_guessing_guard_counts_live_cards_from_the_summary(tree, settings):
    settings.TOPUP_MAX_GUESS_RATIO = 25 / 10**8  # 25 live 8-digit cards at most
    generate(tree["operator"], tree["north"], quantity=20, code="P", pin_length=8)
    assert services.live_cards_by_length() == {8: 20}
    # Blocked and expired cards are not live; the guard sees it without reading a card.
    Card.objects.filter(number__in=["P-00000001", "P-00000002"]).update(status="blocked")
    Card.objects.filter(number="P-00000003").update(expires_at=timezone.now())
    assert services.live_cards_by_length() == {8: 17}
    services.check_guessing_guard(quantity=8, pin_length=8)
    with pytest.raises(ValidationError, match="at least 9 digits"):
        services.check_guessing_guard(quantity=9, pin_length=8)
