"""The card list's totals come from the summary; its pages are index walks from a key."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import generate
from topup.models import Card
from topup.selectors import card_totals, cards_visible_to

LIST = reverse("topup:card-list")
SCAN_NOTE = "Totals counted from the matching cards"


@pytest.fixture
def many(tree):
    operator = tree["operator"]
    generate(operator, tree["north"], quantity=60, code="N1")
    generate(operator, tree["north_retail"], quantity=50, code="R1", amount=Decimal("2.50"))
    generate(operator, tree["south"], quantity=20, code="S1", amount=Decimal("7.00"))
    Card.objects.filter(number__endswith="3").update(status="blocked")
    Card.objects.filter(number__endswith="4").update(expires_at=timezone.now() - timedelta(1))
    return tree


def link(response, rel: str) -> str:
    match = re.search(rf'href="\?([^"]*)" rel="{rel}"', response.content.decode())
    return match.group(1).replace("&amp;", "&")


def numbers(response) -> list[str]:
    return [card.number for card in response.context["cards"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "search",
    [
        {},
        {"series": "R1"},
        {"reseller": "north"},
        {"status": "expired"},
        {"status": "new", "currency": "usd"},
        {"amount_min": "2", "amount_max": "5"},
    ],
)
def test_summary_totals_equal_a_count_of_the_cards(operator_client, many, search):
    if "reseller" in search:
        search = {"reseller": many["north"].pk}
    response = operator_client.get(LIST, search)
    assert response.status_code == 200
    assert SCAN_NOTE not in response.content.decode()
    shown = response.context["totals"]
    filterset = response.context["filter"]
    counted = card_totals(filterset.qs)
    assert shown | {"rows": 0} == counted | {"rows": 0}
    assert shown["count"] == filterset.qs.count() > 0


@pytest.mark.django_db
@pytest.mark.parametrize("search", [{"number": "N1-0000001"}, {"created_after": "2000-01-01"}])
def test_a_search_the_summary_cannot_answer_is_counted_and_says_so(operator_client, many, search):
    response = operator_client.get(LIST, search)
    assert SCAN_NOTE in response.content.decode()
    assert response.context["totals"]["count"] == response.context["filter"].qs.count()


@pytest.mark.django_db
def test_a_reseller_user_sees_totals_of_its_subtree_only(reseller_client, many):
    totals = reseller_client.get(LIST).context["totals"]
    assert totals["count"] == 110  # north and north retail, not south
    assert totals == card_totals(cards_visible_to(many["north_user"])) | {"rows": totals["rows"]}


@pytest.mark.django_db
def test_next_and_previous_walk_from_a_key_and_match_numbered_pages(operator_client, many):
    by_number = [numbers(operator_client.get(LIST, {"page": n})) for n in (1, 2, 3)]
    assert [len(page) for page in by_number] == [50, 50, 30]
    first = operator_client.get(LIST)
    next_query = link(first, "next")
    assert "after=" in next_query and "page=2" in next_query
    second = operator_client.get(f"{LIST}?{next_query}")
    assert numbers(second) == by_number[1]
    third = operator_client.get(f"{LIST}?{link(second, 'next')}")
    assert numbers(third) == by_number[2]
    back = operator_client.get(f"{LIST}?{link(third, 'prev')}")
    assert "before=" in link(third, "prev")
    assert numbers(back) == by_number[1]
    assert back.context["page_obj"].number == 2


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", ["x", "1.2.3", "-" * 50, "99999999999999999999999.1", ""])
def test_a_bad_key_falls_back_to_the_numbered_page(operator_client, many, cursor):
    expected = numbers(operator_client.get(LIST, {"page": 2}))
    response = operator_client.get(LIST, {"page": 2, "after": cursor})
    assert response.status_code == 200
    assert numbers(response) == expected


@pytest.mark.django_db
def test_a_page_past_the_end_shows_the_last_page(operator_client, many):
    response = operator_client.get(LIST, {"page": 2000})
    assert response.context["page_obj"].number == 3
    assert len(numbers(response)) == 30
