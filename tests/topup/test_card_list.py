import csv
import io
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from resellers.models import AuditEvent
from tests.factories import AccountFactory, SeriesFactory, make_card
from topup.models import Card
from topup.views.cards import CardListView

LIST = reverse("topup:card-list")


@pytest.fixture
def cards(tree):
    """One card of each status in north, plus cards in retail (sub), south (sibling), root."""
    now = timezone.now()
    north = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("10.00"))
    account = AccountFactory(reseller=tree["north"], name="Alice")
    made = {
        "new": make_card(series=north, number="101-00000001")[0],
        "activated": make_card(
            series=north,
            number="101-00000002",
            status="activated",
            activated_at=now - timedelta(days=1),
            activated_by=account,
        )[0],
        "expired": make_card(
            series=north, number="101-00000003", expires_at=now - timedelta(hours=1)
        )[0],
        "blocked": make_card(series=north, number="101-00000004", status="blocked")[0],
        "retail": make_card(
            series=SeriesFactory(
                code="301", reseller=tree["north_retail"], amount=Decimal("25.00")
            ),
            number="301-00000001",
        )[0],
        "south": make_card(
            series=SeriesFactory(code="201", reseller=tree["south"], amount=Decimal("20.00")),
            number="201-00000001",
        )[0],
        "root": make_card(
            series=SeriesFactory(code="001", reseller=tree["root"]), number="001-00000001"
        )[0],
    }
    made["account"] = account
    return made


def numbers(response) -> set[str]:
    return {c.number for c in response.context["cards"]}


@pytest.mark.django_db
def test_each_status_shows_its_icon_and_label(operator_client, cards):
    response = operator_client.get(LIST, {"series": "101"})
    rows = {c.number: c.display_status for c in response.context["cards"]}
    assert rows == {
        "101-00000001": "new",
        "101-00000002": "activated",
        "101-00000003": "expired",
        "101-00000004": "blocked",
    }
    rows_html = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    for status, label in [
        ("new", "New"),
        ("activated", "Activated"),
        ("expired", "Expired"),
        ("blocked", "Blocked"),
    ]:
        # Exactly one row of each status, each with its icon and its text label.
        assert rows_html.count(f"img/status-{status}.svg") == 1
        assert rows_html.count(f'<span class="status-label">{label}</span>') == 1
    page = rows_html
    assert "by Alice" in page  # the activated card's tooltip names the customer
    assert Card.objects.get(number="101-00000003").status == "new"  # expired is derived


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "new"}, {"101-00000001", "301-00000001", "201-00000001", "001-00000001"}),
        ({"status": "expired"}, {"101-00000003"}),
        ({"status": "activated"}, {"101-00000002"}),
        ({"status": "blocked"}, {"101-00000004"}),
        ({"series": "201"}, {"201-00000001"}),
        ({"number": "101-00000002"}, {"101-00000002"}),
        ({"number": "30"}, {"301-00000001"}),
        ({"amount_min": "15"}, {"301-00000001", "201-00000001"}),
        ({"amount_min": "15", "amount_max": "22"}, {"201-00000001"}),
        ({"currency": "eur"}, {"201-00000001"}),
    ],
)
def test_each_filter_narrows(operator_client, cards, params, expected):
    response = operator_client.get(LIST, params)
    assert numbers(response) == expected
    assert response.context["totals"]["count"] == len(expected)


@pytest.mark.django_db
def test_reseller_filter_includes_sub_resellers(operator_client, cards, tree):
    got = numbers(operator_client.get(LIST, {"reseller": tree["north"].pk}))
    assert got == {"101-00000001", "101-00000002", "101-00000003", "101-00000004", "301-00000001"}


@pytest.mark.django_db
def test_date_ranges_and_activated_by_narrow(operator_client, cards):
    today = timezone.localdate()
    Card.objects.filter(number="201-00000001").update(
        created_at=timezone.now() - timedelta(days=40)
    )
    got = numbers(operator_client.get(LIST, {"created_before": str(today - timedelta(days=30))}))
    assert got == {"201-00000001"}
    got = numbers(operator_client.get(LIST, {"activated_after": str(today - timedelta(days=2))}))
    assert got == {"101-00000002"}
    got = numbers(operator_client.get(LIST, {"expires_before": str(today)}))
    assert got == {"101-00000003"}
    got = numbers(operator_client.get(LIST, {"activated_by": cards["account"].pk}))
    assert got == {"101-00000002"}


@pytest.mark.django_db
def test_totals_count_and_value_by_status(operator_client, cards):
    totals = operator_client.get(LIST, {"series": "101"}).context["totals"]
    assert totals["count"] == 4
    assert (totals["new_count"], totals["new_values"]) == (1, [("USD", Decimal("10.00"))])
    assert (totals["expired_count"], totals["blocked_count"], totals["activated_count"]) == (
        1,
        1,
        1,
    )


@pytest.mark.django_db
def test_totals_keep_currencies_apart(operator_client, cards):
    totals = operator_client.get(LIST, {"status": "new"}).context["totals"]
    assert totals["new_count"] == 4
    assert totals["new_values"] == [("EUR", Decimal("20.00")), ("USD", Decimal("45.00"))]


@pytest.mark.django_db
def test_sorting_and_pagination(operator_client, cards, monkeypatch):
    monkeypatch.setattr(CardListView, "paginate_by", 3)
    first = operator_client.get(LIST, {"sort": "number"})
    assert [c.number for c in first.context["cards"]] == [
        "001-00000001",
        "101-00000001",
        "101-00000002",
    ]
    third = operator_client.get(LIST, {"sort": "-amount", "page": "3"})
    assert [c.number for c in third.context["cards"]] == ["101-00000001"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"amount_min": "ten"},
        {"status": "lost"},
        {"created_after": "2024-13-45"},
        {"reseller": "abc"},
        {"activated_by": "99999"},
        {"sort": "pin_digest"},
        {"page": "zzz"},
    ],
)
def test_bad_query_values_give_a_form_error_not_a_500(operator_client, cards, params):
    response = operator_client.get(LIST, params)
    assert response.status_code == 200
    if "page" not in params:
        assert response.context["filter"].errors
        assert numbers(response) == set()


@pytest.mark.django_db
def test_a_reseller_user_never_sees_cards_outside_its_subtree(reseller_client, cards, tree):
    visible = {"101-00000001", "101-00000002", "101-00000003", "101-00000004", "301-00000001"}
    assert numbers(reseller_client.get(LIST)) == visible
    assert numbers(reseller_client.get(LIST, {"sort": "-amount"})) == visible
    assert numbers(reseller_client.get(LIST, {"series": "201"})) == set()
    response = reseller_client.get(LIST, {"reseller": tree["south"].pk})
    assert response.context["filter"].errors and numbers(response) == set()
    assert reseller_client.get(LIST, {"page": "2"}).status_code == 200
    # Reveal and export are not offered without the right, and answer 403.
    page = reseller_client.get(LIST).content.decode()
    assert "Reveal" not in page and "Export CSV" not in page
    reveal = reverse("topup:card-reveal", args=[cards["new"].pk])
    assert reseller_client.post(reveal).status_code == 403
    assert reseller_client.get(reverse("topup:card-export")).status_code == 403


@pytest.mark.django_db
def test_reveal_and_export_of_foreign_cards_with_the_right(client, cards, tree):
    user = tree["north_user"]
    user.user_permissions.add(Permission.objects.get(codename="reveal_pin"))
    client.force_login(user)
    assert client.post(reverse("topup:card-reveal", args=[cards["south"].pk])).status_code == 404
    assert client.post(reverse("topup:card-reveal", args=[cards["root"].pk])).status_code == 404
    rows = _export(client, {"apply_to": "search"})
    assert {r["serial"] for r in rows} == {
        "101-00000001", "101-00000002", "101-00000003", "101-00000004", "301-00000001",
    }  # fmt: skip
    rows = _export(client, {"apply_to": "selected", "card": [cards["new"].pk]})
    assert [r["serial"] for r in rows] == ["101-00000001"]
    # A ticked card outside the scope is refused with a message; nothing is exported.
    exports = AuditEvent.objects.filter(action="cards.exported").count()
    foreign = {"apply_to": "selected", "card": [cards["south"].pk, cards["new"].pk]}
    response = client.get(reverse("topup:card-export"), foreign, follow=True)
    assert not response.streaming
    assert "not yours to change" in response.content.decode()
    assert AuditEvent.objects.filter(action="cards.exported").count() == exports


def _export(client, params) -> list[dict]:
    """Confirm the export the way the page does: POST to the URL with the search in it."""
    url = f"{reverse('topup:card-export')}?{urlencode(params, doseq=True)}"
    response = client.post(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.django_db
def test_reveal_shows_the_pin_and_is_audited(operator_client, tree):
    card, pin = make_card(series=SeriesFactory(reseller=tree["north"]))
    response = operator_client.post(reverse("topup:card-reveal", args=[card.pk]))
    assert response.status_code == 200
    assert pin in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="card.pin_revealed")
    assert event.actor == tree["operator"] and event.details["number"] == card.number
    assert operator_client.get(reverse("topup:card-reveal", args=[card.pk])).status_code == 405


@pytest.mark.django_db
def test_the_export_holds_exactly_the_filtered_cards_with_their_pins(operator_client, tree):
    series = SeriesFactory(code="555", reseller=tree["north"], amount=Decimal("7.50"))
    expected = {}
    for n in range(1, 6):
        card, pin = make_card(series=series, number=f"555-{n:08d}")
        expected[card.number] = pin
    make_card(series=SeriesFactory(code="556", reseller=tree["north"]), number="556-00000001")
    Card.objects.filter(number="555-00000005").update(status="blocked")
    del expected["555-00000005"]
    rows = _export(operator_client, {"series": "555", "status": "new", "apply_to": "search"})
    assert {r["serial"]: r["pin"] for r in rows} == expected
    assert {(r["amount"], r["currency"]) for r in rows} == {("7.50", "USD")}
    event = AuditEvent.objects.get(action="cards.exported")
    assert event.details["count"] == 4
    assert "series=555" in event.details["selection"]["search"]
    # A PIN never lands in the audit log.
    assert not any(pin in str(event.details) for pin in expected.values())


@pytest.mark.django_db
def test_series_overview_counts_by_status_and_outstanding_value(operator_client, cards, tree):
    response = operator_client.get(reverse("topup:series-list"))
    row = next(s for s in response.context["object_list"] if s.code == "101")
    assert (row.new_count, row.activated_count, row.expired_count, row.blocked_count) == (
        1,
        1,
        1,
        1,
    )
    assert row.outstanding == Decimal("10.00")
    page = response.content.decode()
    assert f"{LIST}?series=101" in page


@pytest.mark.django_db
def test_series_overview_is_scoped(reseller_client, cards):
    codes = {
        s.code for s in reseller_client.get(reverse("topup:series-list")).context["object_list"]
    }
    assert codes == {"101", "301"}


@pytest.mark.django_db
def test_every_search_input_has_a_name_for_screen_readers(operator_client, cards):
    page = operator_client.get(LIST).content.decode()
    assert 'aria-label="Created from"' in page and 'aria-label="Created to"' in page
    assert 'aria-label="Activated to"' in page
    for name in ["status", "series", "number", "reseller", "amount_min", "currency"]:
        assert f'<label for="id_{name}">' in page
