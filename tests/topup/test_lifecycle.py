"""The card's journey: in stock, released, valid from, void; the rules of redemption by status."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from billing.models import Transaction
from tests.factories import AccountFactory, SeriesFactory, generate, make_card
from topup import services
from topup.models import STATUS_CONDITIONS, Card, RedemptionAttempt
from topup.selectors import card_totals

LIST = reverse("topup:card-list")
EDIT = reverse("topup:card-mass-edit")

# When a card may be redeemed: every stored status against every date situation.
WHEN = {
    "valid": {},
    "expired": {"expires_at": -1},
    "not_yet_valid": {"valid_from": +1},
}
# The refusal the attempt log records for (status, when); None: credited.
EXPECTED = {
    ("new", "valid"): None,
    ("new", "expired"): "expired",
    ("new", "not_yet_valid"): "not_yet_valid",
    ("in_stock", "valid"): "in_stock",
    ("in_stock", "expired"): "expired",
    ("in_stock", "not_yet_valid"): "in_stock",
    ("blocked", "valid"): "blocked",
    ("blocked", "expired"): "blocked",
    ("blocked", "not_yet_valid"): "blocked",
    ("void", "valid"): "void",
    ("void", "expired"): "void",
    ("void", "not_yet_valid"): "void",
}


def card_in(status: str, when: str, series, number: str):
    now = timezone.now()
    fields = {"status": status, "number": number}
    for field, hours in WHEN[when].items():
        fields[field] = now + timedelta(hours=hours)
    if status == "blocked":
        fields["released_at"] = now  # a released card, blocked: still never redeemable
    return make_card(series=series, **fields)


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "when"), sorted(EXPECTED))
def test_a_card_redeems_only_when_released_new_and_within_its_dates(tree, status, when):
    account = AccountFactory(reseller=tree["north"], currency="USD")
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("10.00"))
    card, pin = card_in(status, when, series, "101-00000001")
    result = services.card_redeem(account=account, typed_pin=pin, client_address="10.0.0.1")
    attempt = RedemptionAttempt.objects.get()
    card.refresh_from_db()
    account.refresh_from_db()
    expected = EXPECTED[(status, when)]
    if expected is None:
        assert result.outcome == "success"
        assert (card.status, card.activated_by_id) == ("activated", account.pk)
        assert account.balance == Decimal("10.00")
    else:
        # The customer learns nothing; the attempt log has the real reason.
        assert (result.outcome, result.reason) == ("failed", "")
        assert attempt.reason == expected
        assert card.status == status
        assert account.balance == Decimal("0.00")
        assert not Transaction.objects.exists()


@pytest.mark.django_db
def test_redeemable_and_the_refusal_reason_are_one_rule_in_sql(tree):
    """`Card.objects.redeemable()` (the redemption's SQL condition) and `with_refusal()` (the
    reason) agree with the attempt log's table above, for every card at once."""
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("10.00"))
    cards = {
        key: card_in(*key, series, f"101-{n:08d}")[0] for n, key in enumerate(sorted(EXPECTED))
    }
    refusals = dict(Card.objects.with_refusal().values_list("pk", "refusal"))
    assert {key: refusals[card.pk] for key, card in cards.items()} == EXPECTED
    redeemable = set(Card.objects.redeemable().values_list("pk", flat=True))
    assert redeemable == {card.pk for key, card in cards.items() if EXPECTED[key] is None}


@pytest.mark.django_db
def test_an_activated_card_is_refused_to_others_and_already_credited_to_its_account(tree):
    account, other = (AccountFactory(reseller=tree["north"]) for _ in range(2))
    series = SeriesFactory(code="101", reseller=tree["north"])
    _, pin = make_card(
        series=series, status="activated", activated_at=timezone.now(), activated_by=account
    )
    assert services.card_redeem(
        account=other, typed_pin=pin, client_address="10.0.0.2"
    ).outcome == ("failed")
    assert RedemptionAttempt.objects.get(account=other).reason == "used_by_other"


@pytest.mark.django_db
def test_every_card_has_exactly_one_displayed_status(tree):
    series = SeriesFactory(code="101", reseller=tree["north"])
    numbers = iter(range(1, 100))
    for status, when in EXPECTED:
        card_in(status, when, series, f"101-{next(numbers):08d}")
    make_card(
        series=series,
        status="activated",
        activated_at=timezone.now(),
        activated_by=AccountFactory(reseller=tree["north"]),
    )
    cards = Card.objects.all()
    by_condition = {status: cards.filter(q).count() for status, q in STATUS_CONDITIONS.items()}
    # in stock and new that passed their expiry count as expired; blocked and void win over it.
    assert by_condition == {
        "in_stock": 2,
        "new": 2,
        "activated": 1,
        "expired": 2,
        "blocked": 3,
        "void": 3,
    }
    annotated = dict(cards.with_display_status().values_list("number", "display_status").order_by())
    for status, q in STATUS_CONDITIONS.items():
        assert {annotated[n] for n in cards.filter(q).values_list("number", flat=True)} <= {status}
    totals = card_totals(cards)
    assert totals["count"] == 13 and totals["void_count"] == 3 and totals["in_stock_count"] == 2


@pytest.mark.django_db
def test_the_list_shows_in_stock_and_void_with_icon_label_and_search(operator_client, tree):
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("4.00"))
    make_card(series=series, number="101-00000001", status="in_stock")
    make_card(series=series, number="101-00000002", status="void")
    make_card(series=series, number="101-00000003")
    page = operator_client.get(LIST).content.decode()
    assert page.count("status-in_stock.svg") >= 2  # the row and the totals
    assert ">In stock</span>" in page and ">Void</span>" in page
    found = operator_client.get(LIST, {"status": "in_stock"})
    assert [c.number for c in found.context["cards"]] == ["101-00000001"]
    assert found.context["totals"]["in_stock_values"] == [("USD", Decimal("4.00"))]
    found = operator_client.get(LIST, {"status": "void"})
    assert [c.number for c in found.context["cards"]] == ["101-00000002"]
    for status in ("in_stock", "void"):
        assert operator_client.get(f"/static/img/status-{status}.svg").status_code == 200


@pytest.mark.django_db
def test_generation_is_in_stock_by_default_and_released_on_request(tree):
    request = dict(reseller=tree["north"], amount=Decimal("5.00"), quantity=3)
    stock = services.series_generate(
        user=tree["operator"], request=services.SeriesRequest(code="1", **request)
    )
    sold = services.series_generate(
        user=tree["operator"], request=services.SeriesRequest(code="2", in_stock=False, **request)
    )
    assert stock.in_stock and not sold.in_stock
    assert set(stock.cards.values_list("status", "released_at")) == {("in_stock", None)}
    assert set(sold.cards.values_list("status", flat=True)) == {"new"}
    assert all(sold.cards.values_list("released_at", flat=True))


@pytest.mark.django_db(databases=["default", "progress"])
def test_a_background_series_keeps_its_lifecycle(tree):
    later = timezone.now() + timedelta(days=1)
    series = generate(
        tree["operator"], tree["north"], quantity=4, background=True, in_stock=True,
        valid_from=later,
    )  # fmt: skip
    assert series.state == "pending"
    services.series_fill(series_id=series.pk)  # what the worker's task runs
    series.refresh_from_db()
    assert series.state == "done"
    assert set(series.cards.values_list("status", "released_at", "valid_from")) == {
        ("in_stock", None, later)
    }


@pytest.mark.django_db
def test_the_form_generates_in_stock_unless_released_now_is_chosen(operator_client, tree):
    url = reverse("topup:series-generate")
    page = operator_client.get(url).content.decode()
    assert "In stock: printed cards" in page and "Released now" in page and "Valid from" in page
    base = {"amount": "3.00", "quantity": "2", "pin_length": "12", "reseller": tree["north"].pk}
    operator_client.post(url, {**base, "code": "11"})
    operator_client.post(url, {**base, "code": "12", "in_stock": "0"})
    assert set(Card.objects.filter(series__code="11").values_list("status", flat=True)) == {
        "in_stock"
    }
    assert set(Card.objects.filter(series__code="12").values_list("status", flat=True)) == {"new"}
    later = (timezone.localtime() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    sooner = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    bad = operator_client.post(
        url, {**base, "code": "13", "valid_from": later, "expires_at": sooner}
    )
    assert "valid_from" in bad.context["form"].errors
    assert not Card.objects.filter(series__code="13").exists()


@pytest.mark.django_db
def test_the_command_generates_in_stock_or_released(tree):
    args = ["--user", "op", "--reseller", "North", "--amount", "2", "--quantity", "2"]
    call_command("generate_cards", *args, "--series", "31")
    call_command("generate_cards", *args, "--series", "32", "--released")
    statuses = dict(Card.objects.values_list("series__code", "status").distinct())
    assert statuses == {"31": "in_stock", "32": "new"}


@pytest.mark.django_db
def test_unblocking_returns_a_card_where_it_was_and_void_stays_void(operator_client, tree):
    series = SeriesFactory(code="101", reseller=tree["north"])
    stock, _ = make_card(series=series, number="101-00000001", status="in_stock")
    sold, _ = make_card(series=series, number="101-00000002")
    void, _ = make_card(series=series, number="101-00000003", status="void")
    query = "?series=101&apply_to=search"
    operator_client.post(EDIT + query, {"expiry_mode": "preserve", "reseller_mode": "preserve",
                                        "status_mode": "block"})  # fmt: skip
    assert dict(Card.objects.values_list("number", "status")) == {
        "101-00000001": "blocked",
        "101-00000002": "blocked",
        "101-00000003": "void",
    }
    operator_client.post(EDIT + query, {"expiry_mode": "preserve", "reseller_mode": "preserve",
                                        "status_mode": "unblock"})  # fmt: skip
    # Block and unblock never release a card, and a void card is never unblocked.
    assert dict(Card.objects.values_list("number", "status")) == {
        "101-00000001": "in_stock",
        "101-00000002": "new",
        "101-00000003": "void",
    }


@pytest.mark.django_db
def test_blocking_needs_its_own_right(reseller_client, tree):
    from django.contrib.auth.models import Permission

    series = SeriesFactory(code="101", reseller=tree["north"])
    card, _ = make_card(series=series, number="101-00000001")
    tree["north_user"].groups.get().permissions.remove(
        Permission.objects.get(codename="block_cards")
    )
    response = reseller_client.post(
        EDIT + "?series=101&apply_to=search",
        {"expiry_mode": "preserve", "reseller_mode": "preserve", "status_mode": "block"},
    )
    assert response.status_code == 403
    card.refresh_from_db()
    assert card.status == "new"


@pytest.mark.django_db
def test_the_groups_hold_the_separate_rights(tree):
    operator, reseller_user = tree["operator"], tree["north_user"]
    rights = ["generate_series", "release_cards", "reveal_pin", "block_cards", "void_cards",
              "delete_card", "redeem_for_customer"]  # fmt: skip
    assert all(operator.has_perm(f"topup.{right}") for right in rights)
    assert [r for r in rights if reseller_user.has_perm(f"topup.{r}")] == ["block_cards"]


@pytest.mark.django_db
def test_the_database_refuses_a_sold_card_that_was_never_released(tree):
    from django.db import IntegrityError, transaction

    series = SeriesFactory(code="101", reseller=tree["north"])
    card, _ = make_card(series=series, status="in_stock")
    with pytest.raises(IntegrityError), transaction.atomic():
        Card.objects.filter(pk=card.pk).update(status="new")
    with pytest.raises(IntegrityError), transaction.atomic():
        Card.objects.filter(pk=card.pk).update(released_at=timezone.now())


@pytest.mark.django_db
def test_the_guessing_guard_counts_cards_in_stock(tree, settings):
    settings.TOPUP_MAX_GUESS_RATIO = 25 / 10**8  # 25 live 8-digit cards at most
    generate(tree["operator"], tree["north"], quantity=20, code="P", pin_length=8, in_stock=True)
    assert services.live_cards_by_length() == {8: 20}
    with pytest.raises(ValidationError, match="at least 9 digits"):
        generate(tree["operator"], tree["north"], quantity=6, code="Q", pin_length=8)
