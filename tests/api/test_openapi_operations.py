"""schemathesis over the operations endpoints with a key of each right: never a 5xx, every
answer as documented; a key without the right gets 403, a key of a sibling reseller 404 for
North's objects (explicit tests beside the generated ones)."""

import itertools
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from api import services
from api.models import ApiRight
from tests.api.test_openapi_property import CHECKS, anywhere_key, api_schema, real  # noqa: F401
from tests.factories import generate, operator
from tests.topup.test_printing import KEYS
from topup import services as topup_services
from topup.models import Card

WRITES = r"/(card-ranges|series|jobs|liability|cards)"
OWN = {
    "read": r"/(series|cards/|liability)",
    "generate": r"/series$",
    "release": r"/card-ranges/release",
    "block": r"/card-ranges/(un)?block",
    "void": r"/card-ranges/void",
    "edit": r"/card-ranges/mass-edit",
    "export": r"/card-ranges/export",
}


def make_key(tree, rights, reseller="north"):
    return services.api_key_create(
        user=tree["operator"],
        name=f"fuzz {'+'.join(rights) or 'none'}",
        reseller=tree[reseller],
        networks=["0.0.0.0/0", "::/0"],
        rights=list(rights),
    )[1]


def print_shop(tree):
    return topup_services.print_shop_add(
        user=tree["operator"],
        name="Paper & Ink",
        public_key=(KEYS / "printshop-test.pub.asc").read_text(),
    )


@pytest.fixture
def stock(tree):
    maker = operator(tree["root"], username="maker")
    north = generate(maker, tree["north"], quantity=40, code="801", in_stock=True)
    south = generate(maker, tree["south"], quantity=2, code="802", in_stock=True, currency="EUR")
    return north, south


@pytest.mark.parametrize("right", [right.value for right in ApiRight if right != "sell_epins"])
def test_the_operations_answer_as_documented_with_a_key_of_each_right(
    api_schema,  # noqa: F811
    tree,
    stock,
    right,
):
    north, south = stock
    shop = print_shop(tree)
    token = make_key(tree, [right])
    numbers = [f"801-{n:08d}" for n in (1, 5, 12, 40)] + ["802-00000001"]
    resellers = [tree["north"].pk, tree["north_retail"].pk, tree["south"].pk]
    operations = api_schema.include(path_regex=WRITES)
    own = api_schema.include(path_regex=OWN[right])  # drawn as often as all the others
    cases = st.one_of(
        own.as_strategy(GenerationMode.POSITIVE),
        operations.as_strategy(GenerationMode.POSITIVE),
        operations.as_strategy(GenerationMode.NEGATIVE),
    )
    statuses = set()
    fresh = itertools.count()

    @given(case=cases, data=st.data())
    @seed(20261206)
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case, data):
        # Mostly real serial numbers, resellers and jobs, so that the services act.
        if data.draw(st.integers(0, 3)) != 3:
            if isinstance(case.body, dict) and case.path.endswith("/series"):
                case.body = {
                    **case.body,
                    "code": f"S{next(fresh)}",
                    "amount": "5.00",
                    "quantity": data.draw(st.integers(1, 30)),
                    "currency": None,
                    "pin_length": None,
                    "expires_at": None,
                }
            elif isinstance(case.body, dict):
                ends = sorted(
                    data.draw(st.lists(st.sampled_from(numbers[:4]), min_size=2, max_size=2))
                )
                case.body = {**case.body, "first": ends[0], "last": ends[1]}
                if case.path.endswith("mass-edit"):
                    case.body.update(
                        expiry="set", expires_at="2031-01-31T00:00:00Z", company="preserve"
                    )
            if isinstance(case.body, dict):
                if "reseller" in case.body:
                    case.body["reseller"] = data.draw(st.sampled_from(resellers))
                if "shop" in case.body:
                    case.body["shop"] = shop.pk
            params = case.path_parameters if isinstance(case.path_parameters, dict) else {}
            if "number" in params:
                params["number"] = data.draw(st.sampled_from(numbers))
            if "series_id" in params:
                params["series_id"] = data.draw(st.sampled_from([north.pk, south.pk]))
            if case.headers is not None and "Idempotency-Key" in case.headers:
                # Mostly fresh keys (so that calls act), sometimes one used before (a replay
                # or a 409).
                reuse = data.draw(st.integers(0, 4)) == 4
                case.headers["Idempotency-Key"] = "again" if reuse else f"w{next(fresh)}"
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
        statuses.add((case.method, response.status_code))

    call()
    assert not any(status >= 500 for _, status in statuses)
    # Each right reached an answer that acted, and the others answered 403.
    assert 403 in {status for _, status in statuses}
    assert {status for _, status in statuses} & {200, 202}


def _post(token, path, body, idempotency_key):
    return Client().post(
        f"/api/v1{path}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key},
    )


WRITE_CALLS = [
    ("release", "/card-ranges/release", {}),
    ("block", "/card-ranges/block", {}),
    ("block", "/card-ranges/unblock", {}),
    ("void", "/card-ranges/void", {}),
    ("edit", "/card-ranges/mass-edit", {"expiry": "clear"}),
    ("export", "/card-ranges/export", {"shop": 1}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("right", "path", "extra"), WRITE_CALLS)
def test_without_the_right_403_and_a_sibling_s_key_changes_nothing_of_north(
    tree, stock, right, path, extra
):
    north, _ = stock
    rng = {"first": "801-00000001", "last": "801-00000040", **extra}
    others = [r.value for r in ApiRight if r.value != right]
    refused = _post(make_key(tree, others), path, rng, "a")
    assert refused.status_code == 403 and refused.json()["code"] == "missing_right"
    sibling = make_key(tree, [right], reseller="south")
    answer = _post(sibling, path, rng, "b")
    assert answer.status_code in (200, 404), answer.content
    if answer.status_code == 200 and answer["Content-Type"].startswith("application/json"):
        assert answer.json()["changed"] == 0
    assert set(Card.objects.filter(series=north).values_list("status", flat=True)) == {"in_stock"}


@pytest.mark.django_db
def test_a_sibling_s_key_gets_404_for_north_s_objects(tree, stock):
    north, _ = stock
    token = make_key(tree, [r.value for r in ApiRight], reseller="south")
    auth = {"Authorization": f"Bearer {token}"}
    assert Client().get(f"/api/v1/series/{north.pk}", headers=auth).status_code == 404
    assert Client().get("/api/v1/cards/801-00000001", headers=auth).status_code == 404
    north_key = make_key(tree, ["release"])
    with_job = _post(
        north_key,
        "/card-ranges/release",
        {"first": "801-00000001", "last": "801-00000002", "reseller": tree["north_retail"].pk},
        "j",
    )
    assert with_job.status_code == 200
    moved = _post(
        token,
        "/card-ranges/release",
        {"first": "802-00000001", "last": "802-00000002", "reseller": tree["north"].pk},
        "k",
    )
    assert moved.status_code == 404 and moved.json()["code"] == "not_found"
    assert Client().get("/api/v1/jobs/bulk-1", headers=auth).status_code == 404
