"""Operators define e-PIN products on their own page: scoped, bounded, audited."""

from decimal import Decimal

import pytest
from django.urls import reverse

from resellers.models import AuditEvent
from tests import factories
from topup.models import EpinProduct

LIST = reverse("topup:epinproduct-list")
CREATE = reverse("topup:epinproduct-create")


def product_data(tree, **changes):
    return {
        "code": "usd10",
        "name": "10 USD",
        "reseller": tree["north"].pk,
        "amount": "10.00",
        "currency": "USD",
        "validity_days": "365",
        "make_on_demand": "on",
        "series_code": "E10",
        "active": "on",
        **changes,
    }


@pytest.fixture
def north_operator(tree):
    return factories.operator(tree["north"], username="northop")


@pytest.mark.django_db
def test_an_operator_creates_lists_and_edits_a_product(client, tree):
    series = factories.generate(tree["operator"], tree["north"], quantity=3, code="501")
    client.force_login(tree["operator"])
    response = client.post(CREATE, product_data(tree, series=[series.pk]))
    assert response.status_code == 302, response.content.decode()
    product = EpinProduct.objects.get(code="usd10")
    assert (product.amount, product.currency, product.validity_days) == (
        Decimal("10.00"),
        "USD",
        365,
    )
    assert product.make_on_demand and product.series_code == "E10"
    assert product.created_by == tree["operator"] and list(product.series.all()) == [series]
    page = client.get(LIST).content.decode()
    assert "usd10" in page and "$10.00" in page and "365 days" in page
    edit = reverse("topup:epinproduct-edit", args=[product.pk])
    assert "10 USD" in client.get(edit).content.decode()
    # The code is fixed once created; the rest changes.
    response = client.post(edit, product_data(tree, code="other", name="Ten dollars"))
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.code, product.name, product.series.count()) == ("usd10", "Ten dollars", 0)
    assert AuditEvent.objects.filter(action="epin_product.saved").count() == 2


@pytest.mark.django_db
def test_bad_input_gets_a_message_and_changes_nothing(client, tree):
    south_series = factories.generate(
        tree["operator"], tree["south"], quantity=1, code="502", currency="EUR"
    )
    client.force_login(tree["operator"])
    cases = [
        ({"amount": "-1"}, "amount"),
        ({"amount": "1e30"}, "amount"),
        ({"validity_days": "0"}, "validity_days"),
        ({"validity_days": "99999"}, "validity_days"),
        ({"currency": "XYZ"}, "currency"),
        ({"code": "not a slug!"}, "code"),
        ({"series_code": "not-alnum"}, "series_code"),
        ({"series_code": ""}, "series_code"),  # made on demand needs one
        ({"series": [south_series.pk]}, "series"),  # EUR cards for a USD product
        ({"name": "x" * 101}, "name"),
    ]
    for change, field in cases:
        response = client.post(CREATE, product_data(tree, **change))
        assert response.status_code == 200, change
        assert field in response.context["form"].errors, (change, response.context["form"].errors)
    assert not EpinProduct.objects.exists()


@pytest.mark.django_db
def test_products_are_scoped_to_the_operators_part_of_the_tree(client, tree, north_operator):
    south = EpinProduct.objects.create(
        code="eur5", name="5 EUR", amount=Decimal("5.00"), currency="EUR", reseller=tree["south"]
    )
    client.force_login(north_operator)
    assert "eur5" not in client.get(LIST).content.decode()
    edit = reverse("topup:epinproduct-edit", args=[south.pk])
    assert client.get(edit).status_code == 404
    assert client.post(edit, product_data(tree, reseller=tree["south"].pk)).status_code == 404
    # Another company's series or owner is not a choice.
    south_series = factories.generate(
        tree["operator"], tree["south"], quantity=1, code="503", currency="USD"
    )
    response = client.post(CREATE, product_data(tree, reseller=tree["south"].pk))
    assert "reseller" in response.context["form"].errors
    response = client.post(CREATE, product_data(tree, series=[south_series.pk]))
    assert "series" in response.context["form"].errors
    assert EpinProduct.objects.count() == 1


@pytest.mark.django_db
def test_a_reseller_user_without_the_right_gets_403(client, tree):
    client.force_login(tree["north_user"])
    assert client.get(LIST).status_code == 403
    assert client.post(CREATE, product_data(tree)).status_code == 403
    assert not EpinProduct.objects.exists()
