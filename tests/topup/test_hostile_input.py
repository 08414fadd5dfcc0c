"""Hostile or malformed input on every card page: a clear answer, never a server error."""

import pytest
from django.urls import reverse

from tests.factories import SeriesFactory, make_card
from topup.models import Card

QUERIES = [
    "amount_min=1e400",
    "amount_min=NaN",
    "amount_max=-Infinity",
    "status=%00",
    "series=" + "9" * 500,
    "number=%27%3B--",
    "reseller=-1",
    "reseller=1.5",
    "activated_by=abc",
    "created_after=0000-00-00",
    "expires_before=2024-02-30",
    "sort=-",
    "sort=number,amount",
    "page=-1",
    "page=999999999999999999999",
    "apply_to=selected&card=-5",
    "apply_to=selected&card=99999999999999999999999",
    "apply_to=nonsense",
    "currency=%E2%82%AC%E2%82%AC%E2%82%AC",
]


@pytest.fixture
def some_cards(tree):
    series = SeriesFactory(code="101", reseller=tree["north"])
    return [make_card(series=series, number=f"101-{n:08d}")[0] for n in range(1, 4)]


@pytest.mark.django_db
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(
    "name",
    [
        "topup:card-list",
        "topup:card-mass-edit",
        "topup:card-delete",
        "topup:card-export",
        "topup:card-print",
        "topup:card-export-encrypted",
    ],
)
def test_hostile_query_strings_never_error(operator_client, some_cards, name, query):
    response = operator_client.get(f"{reverse(name)}?{query}")
    assert response.status_code in (200, 302)
    if name == "topup:card-export":
        response = operator_client.post(f"{reverse(name)}?{query}")
        assert response.status_code in (200, 302)
        if response.streaming:
            b"".join(response.streaming_content)
    assert Card.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"amount": "1" * 40, "quantity": "5", "code": "1", "pin_length": "12"},
        {"amount": "NaN", "quantity": "5", "code": "1", "pin_length": "12"},
        {"amount": "5", "quantity": "1e9", "code": "1", "pin_length": "12"},
        {"amount": "5", "quantity": "5", "code": "../../", "pin_length": "12"},
        {"amount": "5", "quantity": "5", "code": "1", "pin_length": "99999999999999999999"},
        {"amount": "5", "quantity": "5", "code": "1", "pin_length": "12", "reseller": "x"},
        {"amount": "5", "quantity": "5", "code": "1", "pin_length": "12", "currency": "usd1"},
        {"amount": "5", "quantity": "5", "code": "1", "pin_length": "12", "expires_at": "soon"},
    ],
)
def test_hostile_generate_forms_are_refused_on_their_fields(operator_client, tree, data):
    data.setdefault("reseller", str(tree["north"].pk))
    response = operator_client.post(reverse("topup:series-generate"), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Card.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "pin", ["", " ", "x" * 41, "１２３４５６７８９０１２", "\x00" * 12, "12345678-" * 4]
)
def test_hostile_pins_are_answered_calmly(customer_client, pin):
    response = customer_client.post(reverse("topup:payment-gateways"), {"pin": pin})
    assert response.status_code == 200
    assert response.context["form"].errors


# --- Reproductions of the server errors found by hand (issue 11) ---------------------------
UNICODE_DIGITS = ["%E2%91%A0", "%C2%B2", "%C2%B9%C2%B2%C2%B3"]  # ①, ², ¹²³
UNSTORABLE_AMOUNTS = [
    "amount_max=1e-999999",
    "amount_min=-1e999999",
    "amount_max=0E-16384",
    "amount_min=1e999999999",
]
SELECTION_PAGES = ["topup:card-mass-edit", "topup:card-delete", "topup:card-export"]


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
@pytest.mark.parametrize("digit", UNICODE_DIGITS)
@pytest.mark.parametrize("name", SELECTION_PAGES)
def test_unicode_digits_as_card_ids_get_a_message(operator_client, some_cards, name, digit):
    response = operator_client.get(f"{reverse(name)}?apply_to=selected&card={digit}", follow=True)
    assert response.status_code == 200
    assert "ticked cards" in response.content.decode()
    assert Card.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("query", UNSTORABLE_AMOUNTS)
@pytest.mark.parametrize("name", ["topup:card-list", *SELECTION_PAGES])
def test_amounts_the_database_cannot_store_are_refused_by_the_field(
    operator_client, some_cards, name, query
):
    response = operator_client.get(f"{reverse(name)}?{query}&apply_to=search", follow=True)
    assert response.status_code == 200
    assert not response.streaming, "the export must refuse before its first byte"
    form = response.context["filter"].form
    assert set(form.errors) == {query.split("=")[0]}
    assert Card.objects.count() == 3


@pytest.mark.django_db
def test_the_smallest_amount_is_a_valid_search(operator_client, some_cards):
    response = operator_client.get(reverse("topup:card-list"), {"amount_min": "0.01"})
    assert response.context["search_valid"]
    assert response.context["totals"]["count"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize("digit", ["①", "²", "¹²³"])
def test_lifting_a_lockout_with_unicode_digits_is_a_404(operator_client, customer, digit):
    response = operator_client.post(reverse("topup:lockout-lift"), {"account": digit})
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("reseller", ["²", "①", "0", "-1", "99999999999999999999999"])
def test_the_command_refuses_an_unknown_reseller_with_a_message(tree, reseller):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="reseller"):
        call_command(
            "generate_cards", "--user=op", f"--reseller={reseller}", "--amount=1",
            "--quantity=1", "--series=1",
        )  # fmt: skip
    assert not Card.objects.exists()
