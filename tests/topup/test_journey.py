"""Four eyes, support redemption, card history and the series reconciliation."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from billing.models import Transaction
from resellers.models import AuditEvent
from tests import factories
from tests.factories import AccountFactory, SeriesFactory, generate, make_card
from topup import services
from topup.models import Card, CardEventRange, RedemptionAttempt, card_runs

LIST = reverse("topup:card-list")
EXPORT = reverse("topup:card-export")


@pytest.fixture
def second_operator(tree):
    return factories.operator(tree["root"], username="op2")


@pytest.fixture
def four_eyes(settings):
    settings.TOPUP_FOUR_EYES = True


# --- Four eyes ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_four_eyes_refuses_the_generator_its_own_export_and_says_why(
    client, tree, second_operator, four_eyes
):
    generate(tree["operator"], tree["north"], quantity=3, code="101")
    url = f"{EXPORT}?series=101&apply_to=search"
    reason = "Four eyes: you generated series 101, so another person must export the PINs of it."
    client.force_login(tree["operator"])
    assert reason in client.get(url).content.decode()  # said before the user asks
    response = client.post(url)
    assert response.headers["Content-Type"].startswith("text/html")
    assert reason in response.content.decode()
    assert not AuditEvent.objects.filter(action="cards.exported").exists()
    client.force_login(second_operator)
    assert reason not in client.get(url).content.decode()
    response = client.post(url)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 4  # header and three cards
    assert AuditEvent.objects.get(action="cards.exported").actor == second_operator


@pytest.mark.django_db
def test_four_eyes_refuses_the_generator_a_pin_reveal(client, tree, second_operator, four_eyes):
    series = generate(tree["operator"], tree["north"], quantity=1, code="101")
    card = series.cards.get()
    client.force_login(tree["operator"])
    response = client.post(reverse("topup:card-reveal", args=[card.pk]), follow=True)
    assert "revealed_pin" not in response.content.decode()
    assert any("Four eyes" in str(m) for m in response.context["messages"])
    client.force_login(second_operator)
    response = client.post(reverse("topup:card-reveal", args=[card.pk]))
    assert response.context["pin"].isdigit()


@pytest.mark.django_db
def test_without_four_eyes_the_generator_may_export(tree, settings):
    settings.TOPUP_FOUR_EYES = False
    series = generate(tree["operator"], tree["north"], quantity=2, code="101")
    rows = services.cards_export_rows(user=tree["operator"], cards=series.cards.all(), selection={})
    assert len(list(rows)) == 2


@pytest.mark.django_db
def test_the_four_eyes_check_looks_at_every_selected_card(tree, second_operator, four_eyes):
    generate(tree["operator"], tree["north"], quantity=2, code="101")
    generate(second_operator, tree["north"], quantity=2, code="102")
    with pytest.raises(services.FourEyesRefused, match="series 102"):
        services.four_eyes_check(
            user=second_operator, cards=Card.objects.all(), action=services.FourEyes.EXPORT
        )
    services.four_eyes_check(
        user=second_operator, cards=Card.objects.filter(series__code="101"), action="x"
    )


# --- Support redemption ---------------------------------------------------------------------
@pytest.fixture
def phone_card(tree):
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("10.00"))
    return make_card(series=series, number="101-00000001")


def support_url(account) -> str:
    return reverse("topup:support-redeem", args=[account.pk])


@pytest.mark.django_db
def test_support_redeems_for_a_customer_with_a_note(operator_client, tree, customer, phone_card):
    card, pin = phone_card
    response = operator_client.post(
        support_url(customer), {"pin": pin, "note": "Call 4711, card scratched"}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.balance == Decimal("15.00")
    posting = Transaction.objects.get(kind="topup_card")
    assert (posting.account, posting.created_by, posting.reference) == (
        customer,
        tree["operator"],
        f"topup.card:{card.pk}",
    )
    attempt = RedemptionAttempt.objects.get()
    assert (attempt.account, attempt.staff, attempt.note, attempt.outcome) == (
        customer,
        tree["operator"],
        "Call 4711, card scratched",
        "success",
    )
    event = AuditEvent.objects.get(action="card.redeemed")
    assert event.actor == tree["operator"] and event.details["account"] == customer.pk
    assert event.details["note"] == "Call 4711, card scratched"


@pytest.mark.django_db
def test_support_needs_a_note_the_right_and_the_account_in_scope(client, tree, phone_card):
    _, pin = phone_card
    north_customer = AccountFactory(reseller=tree["north"])
    south_customer = AccountFactory(reseller=tree["south"], currency="USD")
    client.force_login(tree["operator"])
    response = client.post(support_url(north_customer), {"pin": pin, "note": "  "})
    assert "Say why you redeem this card" in response.content.decode()
    client.force_login(tree["north_user"])  # reseller users lack the right by default
    assert client.post(support_url(north_customer), {"pin": pin, "note": "x"}).status_code == 403
    tree["north_user"].user_permissions.add(Permission.objects.get(codename="redeem_for_customer"))
    assert client.post(support_url(south_customer), {"pin": pin, "note": "x"}).status_code == 404
    assert not Transaction.objects.filter(kind="topup_card").exists()
    with pytest.raises(Exception, match="note"):
        services.card_redeem(
            account=north_customer, typed_pin=pin, client_address="10.0.0.9", user=tree["operator"]
        )
    assert Card.objects.get().status == "new"


@pytest.mark.django_db
def test_support_gets_the_generic_refusal_and_the_same_lockout(operator_client, customer, settings):
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 2
    for _ in range(2):
        response = operator_client.post(
            support_url(customer), {"pin": "000000000000", "note": "call"}
        )
        assert "This PIN cannot be used." in response.content.decode()
    response = operator_client.post(support_url(customer), {"pin": "000000000000", "note": "call"})
    assert response.status_code == 429
    assert RedemptionAttempt.objects.filter(outcome="failed", reason="unknown").count() == 2


# --- Card history ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_card_runs_are_exact_and_bounded():
    runs, count = card_runs([5, 3, 4, 9, 4, 10, 30_000, *range(100, 100 + 25_000)])
    assert count == 6 + 25_000
    assert runs[:3] == [(3, 5), (9, 10), (100, 100 + 9_999)]
    assert runs[-1] == (30_000, 30_000)
    assert all(last - first < CardEventRange.SPAN for first, last in runs)
    covered = {n for first, last in runs for n in range(first, last + 1)}
    assert covered == {3, 4, 5, 9, 10, 30_000, *range(100, 100 + 25_000)}


@pytest.mark.django_db
def test_events_are_found_exactly_per_card():
    first = AuditEvent.objects.create(action="test.a")
    second = AuditEvent.objects.create(action="test.b")
    CardEventRange.record([(100, 9_000)], event=first)
    CardEventRange.record([(9_002, 9_002)], event=second)

    def touching(card_id):
        return [run.event for run in CardEventRange.touching(card_id)]

    assert touching(100) == [first]
    assert touching(9_000) == [first]
    assert touching(9_001) == []
    assert touching(9_002) == [second]
    assert touching(99) == []


@pytest.mark.django_db
def test_the_history_shows_everything_in_order(client, tree, second_operator, customer):
    series = generate(tree["operator"], tree["north"], quantity=4, code="101", amount=Decimal("7"))
    card = series.cards.get(number="101-00000002")
    client.force_login(second_operator)
    list(services.cards_export_rows(user=second_operator, cards=series.cards.all(), selection={}))
    client.post(reverse("topup:card-reveal", args=[card.pk]))
    pin = services.card_reveal_pin(user=second_operator, card=card)
    services.card_redeem(account=customer, typed_pin="111111111111", client_address="10.0.0.5")
    services.card_redeem(account=customer, typed_pin=pin, client_address="192.0.2.7")
    other = AccountFactory(reseller=tree["north"])
    services.card_redeem(account=other, typed_pin=pin, client_address="192.0.2.8")

    page = client.get(reverse("topup:card-detail", args=[card.pk]))
    history = page.context["history"]
    whats = [entry.what for entry in history]
    assert whats == [
        "Generated",
        "Exported with PINs",
        "PIN revealed",
        "PIN revealed",
        "Redeemed",
        "Redemption attempt",
    ]
    assert history[0].who == "op" and "in stock" not in history[0].detail
    assert history[1].who == "op2" and history[1].detail == "4 cards in that export"
    assert history[4].detail == f"$7.00 credited to account {customer.name}, from 192.0.2.7"
    assert "used_by_other" in history[5].detail and other.name in history[5].detail
    assert [e.when for e in history] == sorted(e.when for e in history)
    # The unknown PIN typed before is not this card's business.
    assert "10.0.0.5" not in page.content.decode()


@pytest.mark.django_db
def test_the_history_is_scoped(client, tree):
    series = generate(tree["operator"], tree["north"], quantity=2, code="101")
    card = series.cards.get(number="101-00000001")
    client.force_login(tree["north_user"])
    history = client.get(reverse("topup:card-detail", args=[card.pk])).context["history"]
    assert [e.what for e in history] == ["Generated"]
    client.force_login(tree["south_user"])
    assert client.get(reverse("topup:card-detail", args=[card.pk])).status_code == 404


@pytest.mark.django_db
def test_a_serial_number_finds_the_card_in_scope(client, tree, operator_client):
    series = generate(tree["operator"], tree["north"], quantity=2, code="101")
    card = series.cards.get(number="101-00000002")
    find = reverse("topup:card-find")
    response = operator_client.get(find, {"number": " 101-00000002 "})
    assert response["Location"] == reverse("topup:card-detail", args=[card.pk])
    response = operator_client.get(find, {"number": "101-99999999"})
    assert "No card with this serial number" in response.content.decode()
    assert operator_client.get(find, {"number": "x" * 300}).status_code == 200
    assert (
        f'href="{reverse("topup:card-detail", args=[card.pk])}"'
        in operator_client.get(LIST).content.decode()
    )
    client.force_login(tree["south_user"])
    response = client.get(find, {"number": "101-00000002"})
    assert response.status_code == 200 and "No card with this serial number" in (
        response.content.decode()
    )


# --- Reconciliation -------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_series_overview_reconciles_count_and_value(operator_client, tree):
    now = timezone.now()
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("2.50"), quantity=9)
    account = AccountFactory(reseller=tree["north"])
    for status in ["in_stock", "in_stock", "new", "blocked", "void"]:
        make_card(series=series, status=status)
    make_card(series=series, expires_at=now)  # released, expired
    make_card(series=series, status="activated", activated_at=now, activated_by=account)
    gone, _ = make_card(series=series)
    gone.delete()
    response = operator_client.get(reverse("topup:series-list"))
    [(row, generated, cells, elsewhere)] = response.context["rows"]
    assert generated == (9, Decimal("22.50"))
    assert dict(zip([k for k, _ in response.context["columns"]], cells, strict=True)) == {
        "in_stock": (2, Decimal("5.00")),
        "new": (1, Decimal("2.50")),
        "activated": (1, Decimal("2.50")),
        "expired": (1, Decimal("2.50")),
        "blocked": (1, Decimal("2.50")),
        "void": (1, Decimal("2.50")),
    }
    # Every generated card is accounted for: the deleted one too.
    assert elsewhere == (2, Decimal("5.00"))  # quantity 9, 7 cards there
    assert generated[0] == sum(count for count, _ in cells) + elsewhere[0]
    response = operator_client.get(reverse("topup:series-reconciliation"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["series"] == "101" and rows[0]["generated value"] == "22.50"
    assert (rows[0]["in stock"], rows[0]["in stock value"]) == ("2", "5.00")
    assert (rows[0]["activated"], rows[0]["void value"]) == ("1", "2.50")
    assert rows[0]["deleted or elsewhere"] == "2"


@pytest.mark.django_db
def test_the_reconciliation_csv_is_scoped(client, tree):
    SeriesFactory(code="101", reseller=tree["north"])
    SeriesFactory(code="201", reseller=tree["south"])
    client.force_login(tree["south_user"])
    response = client.get(reverse("topup:series-reconciliation"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["series"] for row in rows] == ["201"]


@pytest.mark.django_db
def test_the_history_names_exactly_the_cards_a_mass_edit_changed(operator_client, tree):
    series = generate(tree["operator"], tree["north"], quantity=3, code="101")
    card, untouched, void = series.cards.order_by("number")
    Card.objects.filter(pk=void.pk).update(status="void")
    edit = reverse("topup:card-mass-edit") + f"?apply_to=selected&card={card.pk}&card={void.pk}"
    operator_client.post(
        edit,
        {"expiry_mode": "clear", "reseller_mode": "set", "reseller": tree["north_retail"].pk,
         "status_mode": "block"},
    )  # fmt: skip
    detail = reverse("topup:card-detail", args=[card.pk])
    history = operator_client.get(detail).context["history"]
    assert (history[-1].what, history[-1].who) == (
        "Blocked, moved to North Retail, expiry cleared",
        "op",
    )
    # Selected but void (never changed): not in its history; not selected: not either.
    for other in (untouched, void):
        page = operator_client.get(reverse("topup:card-detail", args=[other.pk]))
        assert [e.what for e in page.context["history"]] == ["Generated"]
    operator_client.post(
        edit, {"expiry_mode": "preserve", "reseller_mode": "preserve", "status_mode": "unblock"}
    )
    history = operator_client.get(detail).context["history"]
    assert history[-1].what == "Unblocked"
    card.refresh_from_db()
    assert card.status == "new"
