"""Series label and notes: set on generation (page and command), edited on the series page
(audited), searched in the card list and the series overview, shown where a series is."""

from django.core.management import call_command
from django.urls import reverse

from resellers.models import AuditEvent
from tests.factories import generate
from topup.models import Card, Series


def test_the_generate_page_keeps_the_label_and_notes(operator_client, tree):
    response = operator_client.post(
        reverse("topup:series-generate"),
        {
            "amount": "10.00", "quantity": "3", "code": "301", "pin_length": "12",
            "reseller": tree["north"].pk, "in_stock": "1",
            "label": "  PO 4471 Acme  ", "notes": "Print run 7\nfor the fair",
        },
    )  # fmt: skip
    assert response.status_code == 302
    series = Series.objects.get(code="301")
    assert (series.label, series.notes) == ("PO 4471 Acme", "Print run 7\nfor the fair")
    event = AuditEvent.objects.get(action=AuditEvent.Action.SERIES_GENERATED)
    assert event.details["label"] == "PO 4471 Acme"


def test_a_label_too_long_is_refused_on_the_form(operator_client, tree):
    response = operator_client.post(
        reverse("topup:series-generate"),
        {
            "amount": "10.00", "quantity": "3", "code": "302", "pin_length": "12",
            "reseller": tree["north"].pk, "in_stock": "1", "label": "x" * 81,
            "notes": "y" * 1001,
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert "A label has at most 80 characters." in response.content.decode()
    assert "Notes have at most 1,000 characters." in response.content.decode()
    assert not Series.objects.filter(code="302").exists()


def test_the_command_takes_label_and_notes(tree):
    call_command(
        "generate_cards", "--amount", "5", "--quantity", "2", "--series", "303",
        "--reseller", str(tree["north"].pk), "--user", "op",
        "--label", "Distributor Kappa", "--notes", "box 12",
    )  # fmt: skip
    series = Series.objects.get(code="303")
    assert (series.label, series.notes) == ("Distributor Kappa", "box 12")


def test_editing_on_the_series_page_is_audited_and_a_no_change_is_not(operator_client, tree):
    series = generate(tree["operator"], tree["north"], quantity=2, code="304")
    url = reverse("topup:series-detail", args=[series.pk])
    response = operator_client.post(url, {"label": "Fair 2026", "notes": "two boxes"}, follow=True)
    assert "label, notes and printed language saved" in response.content.decode()
    series.refresh_from_db()
    assert (series.label, series.notes) == ("Fair 2026", "two boxes")
    event = AuditEvent.objects.get(action=AuditEvent.Action.SERIES_DESCRIBED)
    assert event.details["old"] == {"label": "", "notes": ""}
    assert event.details["new"] == {"label": "Fair 2026", "notes": "two boxes"}
    response = operator_client.post(url, {"label": "Fair 2026", "notes": "two boxes"}, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SERIES_DESCRIBED).count() == 1


def test_another_resellers_series_cannot_be_edited(client, tree):
    series = generate(tree["operator"], tree["south"], quantity=1, code="305")
    client.force_login(tree["north_user"])
    response = client.post(reverse("topup:series-detail", args=[series.pk]), {"label": "mine"})
    assert response.status_code == 404
    series.refresh_from_db()
    assert series.label == ""


def test_the_card_list_and_the_overview_find_a_series_by_its_label(operator_client, tree):
    labelled = generate(tree["operator"], tree["north"], quantity=2, code="306", label="PO-9 Acme")
    generate(tree["operator"], tree["north"], quantity=3, code="307", label="Other")
    response = operator_client.get(reverse("topup:card-list"), {"series_label": "acme"})
    numbers = {card.number for card in response.context["cards"]}
    assert numbers == set(Card.objects.filter(series=labelled).values_list("number", flat=True))
    response = operator_client.get(reverse("topup:series-list"), {"q": "acme"})
    assert [s.code for s in response.context["object_list"]] == ["306"]
    assert "PO-9 Acme" in response.content.decode()


def test_the_label_is_in_the_reconciliation_csv_and_the_card_history(operator_client, tree):
    series = generate(tree["operator"], tree["north"], quantity=1, code="308", label="Kiosk run")
    csv = b"".join(operator_client.get(reverse("topup:series-reconciliation")).streaming_content)
    header, row = csv.decode().splitlines()[:2]
    assert header.startswith("series,label,notes,")
    assert row.startswith("308,Kiosk run,")
    card = Card.objects.get(series=series)
    page = operator_client.get(reverse("topup:card-detail", args=[card.pk])).content.decode()
    assert "series 308 (Kiosk run)" in page


def test_the_generate_page_previews_value_and_numbers(operator_client, tree):
    generate(tree["operator"], tree["north"], quantity=1000, code="102")
    page = operator_client.get(reverse("topup:series-generate"))
    assert page.context["next_numbers"]["102"] == 1001
    # The live preview asks the server for its sentence (tests/topup/test_generate_preview.py).
    assert f'data-url="{reverse("topup:series-preview")}"' in page.content.decode()
    assert "js/generate.js" in page.content.decode()
    refused = operator_client.post(
        reverse("topup:series-generate"),
        {"amount": "2.50", "quantity": "1000", "code": "102", "pin_length": "3",
         "reseller": tree["north"].pk, "in_stock": "1"},
    )  # fmt: skip
    assert refused.status_code == 200
    assert (
        "1,000 cards × $2.50 = $2,500.00; card numbers 102-00001001 to 102-00002000."
        in refused.content.decode()
    )


def test_a_label_nobody_has_finds_no_card(operator_client, tree):
    generate(tree["operator"], tree["north"], quantity=2, code="309", label="Kiosk")
    response = operator_client.get(reverse("topup:card-list"), {"series_label": "nothing like it"})
    assert response.status_code == 200
    assert list(response.context["cards"]) == []
