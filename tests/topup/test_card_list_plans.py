"""Every search field and sort of the card list has a page query whose cost is bounded by the
page, not by the table: no sequential scan of the cards, no sort of every matching card.

The fields and sorts are read from the FilterSet itself, so a new field is planned here the
day it is added (a text field needs a sample value below, or the test says so). Plans are
EXPLAINed (never run) on a small table whose statistics claim ten million cards, with
sequential scans disabled: what the planner picks at scale.
"""

import itertools
import json
from datetime import timedelta
from decimal import Decimal

import django_filters
import pytest
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from tests import factories
from topup import card_list_plan
from topup.card_list_plan import order_by, plan_page
from topup.filters import CardFilter, SerialRangeFilter
from topup.models import Card
from topup.selectors import cards_visible_to

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner"),
    pytest.mark.django_db,
]
CARD_TABLE = Card._meta.db_table
FAKED_ROWS = 10_000_000
# Text searches need a value that means something to their field.
TEXT_SAMPLES = {"series": "P3", "series_label": "run 3", "number": "P3-0000", "currency": "USD"}


@pytest.fixture
def shaped(tree):
    """Ten small series shaped as the product makes them (newest in stock), and statistics
    that say the table holds ten million cards."""
    owners = [tree["north"], tree["south"], tree["north_retail"]]
    for k in range(10):
        factories.generate(
            tree["operator"], owners[k % 3], quantity=30, code=f"P{k}", in_stock=k >= 8,
            amount=Decimal([5, 10, 20, 50][k % 4]), expires_at=None if k == 3 else
            timezone.now() + timedelta(days=400 + k), label=f"print run {k}",
        )  # fmt: skip
    account = factories.AccountFactory(reseller=tree["north"])
    released = list(Card.objects.filter(status="new").values_list("pk", flat=True))
    Card.objects.filter(pk__in=released[::10]).update(
        status="activated", activated_at=timezone.now(), activated_by=account
    )
    Card.objects.filter(status="new", number__endswith="2").update(status="blocked")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {CARD_TABLE}")
        cursor.execute(
            "UPDATE pg_class SET reltuples = %s WHERE oid = %s::regclass"
            " OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = %s::regclass)",
            [FAKED_ROWS, CARD_TABLE, CARD_TABLE],
        )
    return tree


def search_samples(user) -> list[dict]:
    """One query string per value worth planning of every search field (all statuses)."""
    form = CardFilter(None, queryset=cards_visible_to(user), user=user).form
    today = timezone.localdate()
    samples = []
    for name, field in CardFilter.base_filters.items():
        if isinstance(field, django_filters.OrderingFilter):
            continue
        if isinstance(field, django_filters.ModelChoiceFilter):
            samples.append({name: str(form.fields[name].queryset.order_by("pk").first().pk)})
        elif isinstance(field, django_filters.ChoiceFilter):
            samples += [{name: value} for value, _ in form.fields[name].choices if value]
        elif isinstance(field, django_filters.DateFromToRangeFilter):
            first, last = today - timedelta(days=30), today + timedelta(days=800)
            samples.append({f"{name}_after": str(first), f"{name}_before": str(last)})
        elif isinstance(field, SerialRangeFilter):
            samples.append({f"{name}_min": "P3-00000001", f"{name}_max": "P3-00000020"})
        elif isinstance(field, django_filters.NumberFilter):
            samples.append({name: "10"})
        else:
            assert name in TEXT_SAMPLES, f"add a sample value for the search field {name!r}"
            samples.append({name: TEXT_SAMPLES[name]})
    return samples


def sorts() -> list[str]:
    ordering = CardFilter.base_filters["sort"]
    return ["", *itertools.chain.from_iterable((k, f"-{k}") for k in ordering.param_map)]


def plan_of(user, params: dict) -> tuple[object, str]:
    data = QueryDict(mutable=True)
    data.update({k: v for k, v in params.items() if v})
    filterset = CardFilter(data or None, queryset=cards_visible_to(user), user=user)
    assert not filterset.is_bound or filterset.is_valid(), (params, filterset.errors)
    plan = plan_page(filterset, filterset.qs)
    sql, sql_params = plan.ids_sql(0, 50)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", sql_params)
        return plan, json.dumps(cursor.fetchone()[0][0]["Plan"])


def faults(node: dict, under_limit: bool = False) -> list[str]:
    """Sequential scans of the cards, and sorts of every matching card (no LIMIT below)."""
    found = []
    kind = node["Node Type"]
    if kind == "Seq Scan" and node.get("Relation Name") == CARD_TABLE:
        found.append("Seq Scan on the cards")
    if kind in ("Sort", "Incremental Sort") and _reads_cards_unlimited(node):
        found.append(f"Sort of every matching card by {node.get('Sort Key')}")
    for child in node.get("Plans", []):
        found += faults(child, under_limit or kind == "Limit")
    return found


def _reads_cards_unlimited(node: dict) -> bool:
    for child in node.get("Plans", []):
        if child["Node Type"] == "Limit":
            continue
        if child.get("Relation Name") == CARD_TABLE or _reads_cards_unlimited(child):
            return True
    return False


def test_every_search_field_and_sort_has_a_bounded_page_plan(shaped):
    user = shaped["operator"]
    cases = [{"sort": sort} for sort in sorts()]
    cases += [{**sample, "sort": sort} for sample in search_samples(user) for sort in sorts()]
    bad = {}
    for params in cases:
        plan, text = plan_of(user, params)
        if text and (found := faults(json.loads(text))):
            bad[json.dumps(params)] = found
    assert not bad, f"{len(bad)} of {len(cases)} plans read the whole table:\n" + "\n".join(
        f"{params}: {', '.join(found)}" for params, found in bad.items()
    )


def test_every_pair_of_search_fields_has_a_bounded_page_plan(shaped):
    user = shaped["operator"]
    by_field = {}
    for sample in search_samples(user):
        by_field.setdefault(next(iter(sample)).rsplit("_", 1)[0], sample)
    bad = {}
    pairs = list(itertools.combinations(by_field.values(), 2))
    for first, second in pairs:
        params = {**first, **second}
        plan, text = plan_of(user, params)
        if text and (found := faults(json.loads(text))):
            bad[json.dumps(params)] = found
    assert not bad, f"{len(bad)} of {len(pairs)} plans read the whole table:\n" + "\n".join(
        f"{params}: {', '.join(found)}" for params, found in bad.items()
    )


def test_the_check_catches_a_whole_table_sort(shaped):
    """The checker itself: an unindexed order over every card is reported."""
    user = shaped["operator"]
    cards = cards_visible_to(user).order_by("pin_key_version", "-pk")
    sql, params = cards.values_list("pk", flat=True)[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
    assert faults(plan)


LIST = "/cards/"


def listed(response) -> list[str]:
    return [card.number for card in response.context["cards"]]


def test_a_bounded_sort_lists_the_same_cards_as_a_full_sort(operator_client, shaped):
    """At most SORT_LIMIT matches are sorted as asked, with every order's ties by id."""
    for sort in sorts():
        search = {"series": "P3", "sort": sort}
        response = operator_client.get(LIST, search)
        user = shaped["operator"]
        expected = CardFilter(search, queryset=cards_visible_to(user), user=user).qs
        expected = expected.order_by(*order_by(sort or ""))
        assert listed(response) == [card.number for card in expected[:50]], sort
        assert not response.context["plan_notice"]


def test_too_many_matches_to_sort_are_listed_in_the_fields_order_and_the_page_says_so(
    operator_client, shaped, monkeypatch
):
    monkeypatch.setattr(card_list_plan, "SORT_LIMIT", 20)
    response = operator_client.get(LIST, {"amount_min": "10", "sort": "-reseller"})
    page = response.content.decode()
    assert "too many to sort by reseller at once, so they are listed by amount" in page
    assert "Narrow the search (a series, a serial range or a single reseller)" in page
    amounts = [card.amount for card in response.context["cards"]]
    assert amounts == sorted(amounts) and min(amounts) >= 10

    response = operator_client.get(LIST, {"number": "P"})
    page = response.content.decode()
    assert "more than 20" in page  # the count, and the selection's label
    assert response.context["totals"]["more_than"] == 20


def test_an_activation_date_search_is_totalled_from_the_redemptions_per_hour(
    operator_client, shaped
):
    today = timezone.localdate()
    search = {"activated_after": str(today - timedelta(days=1)), "activated_before": str(today)}
    response = operator_client.get(LIST, search)
    totals = response.context["totals"]
    activated = Card.objects.filter(status="activated")
    assert totals["count"] == activated.count() > 0
    shown = dict((status, (n, values)) for status, n, values in totals["by_status"])
    assert shown["activated"][0] == activated.count()
    assert sum(v for _, v in shown["activated"][1]) == sum(c.amount for c in activated)
    assert "Totals counted from the matching cards" not in response.content.decode()


@pytest.mark.django_db
def test_the_serial_column_keeps_fine_statistics():
    """A serial range's row estimate needs a fine histogram on the number column (migration
    0023): at the default, the planner ANDs the whole reseller index into a narrow range."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attname = 'number'",
            [CARD_TABLE],
        )
        assert cursor.fetchone()[0] == 1000
