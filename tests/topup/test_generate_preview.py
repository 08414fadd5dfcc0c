"""The Generate page's live preview: one sentence, said by the server in the user's language."""

from django.urls import reverse

from tests.factories import generate


def _preview(client, **fields):
    response = client.get(reverse("topup:series-preview"), fields)
    assert response.status_code == 200
    return response.json()["preview"]


def test_the_preview_continues_the_series_numbers_in_the_users_formats(operator_client, tree):
    generate(tree["operator"], tree["north"], quantity=3, code="880")
    fields = {"amount": "2.50", "quantity": "1000", "code": "880", "reseller": tree["north"].pk}
    assert _preview(operator_client, **fields) == (
        "1,000 cards × $2.50 = $2,500.00; card numbers 880-00000004 to 880-00001003."
    )
    tree["operator"].language = "es"
    tree["operator"].save(update_fields=["language"])
    assert _preview(operator_client, **fields) == (
        "1.000 tarjetas × 2,50\u00a0US$ = 2.500,00\u00a0US$; números de tarjeta 880-00000004 a "
        "880-00001003."
    )


def test_a_form_still_being_typed_previews_nothing(operator_client, tree):
    assert _preview(operator_client, amount="2.5x", quantity="10", code="880") == ""
    assert _preview(operator_client, amount="2.50", quantity="", code="880") == ""


def test_the_preview_needs_the_right_to_generate(client, tree, customer):
    for user in (customer.user, tree["north_user"]):  # neither may generate series
        client.force_login(user)
        assert client.get(reverse("topup:series-preview"), {"code": "1"}).status_code == 403
