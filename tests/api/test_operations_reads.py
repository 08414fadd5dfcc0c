"""The operations API's reads: a key with the read right, its subtree only, never a PIN."""

import pytest
from django.test import Client

from api import services
from tests.factories import generate
from topup.models import Card


def key(tree, reseller="north", rights=("read",)):
    return services.api_key_create(
        user=tree["operator"],
        name="warehouse",
        reseller=tree[reseller],
        networks=["127.0.0.0/8"],
        rights=list(rights),
    )[1]


def get(token, path, **params):
    return Client().get(f"/api/v1{path}", params, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def series(tree):
    north = [generate(tree["operator"], tree["north"], quantity=3, code=f"6{i}") for i in range(5)]
    south = generate(tree["operator"], tree["south"], quantity=2, code="70", currency="EUR")
    return north, south


@pytest.mark.django_db
def test_series_pages_by_cursor_within_the_key_s_subtree(tree, series):
    north, south = series
    token = key(tree)
    seen, cursor, pages = [], None, 0
    while True:
        body = get(token, "/series", limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [s["id"] for s in body["results"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == sorted((s.pk for s in north), reverse=True) and pages == 3
    assert get(token, "/series", cursor="garbage!").status_code == 200
    assert get(token, "/series", limit=500).status_code == 400


@pytest.mark.django_db
def test_a_series_with_its_reconciliation_and_a_card_without_its_pin(tree, series):
    north, south = series
    token = key(tree)
    body = get(token, f"/series/{north[0].pk}").json()
    assert body["reconciliation"]["generated"] == {"count": 3, "value": "30.00"}
    assert body["reconciliation"]["new"]["count"] == 3
    assert get(token, f"/series/{south.pk}").status_code == 404
    card = Card.objects.filter(series=north[0]).first()
    found = get(token, f"/cards/{card.number}")
    assert found.status_code == 200 and found.json()["status"] == "new"
    assert "pin" not in found.content.decode().lower()
    south_card = Card.objects.filter(series=south).first()
    assert get(token, f"/cards/{south_card.number}").status_code == 404
    assert get(token, "/cards/999-00000000").status_code == 404


@pytest.mark.django_db
def test_a_key_without_the_read_right_gets_403(tree, series):
    token = key(tree, rights=())
    assert get(token, "/series").status_code == 403
    assert get(token, f"/series/{series[0][0].pk}").status_code == 403
    assert get(token, "/cards/60-00000001").status_code == 403
