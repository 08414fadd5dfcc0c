"""Property-based: every endpoint of the OpenAPI document, driven with generated input
(schemathesis over hypothesis, fixed seed, bounded), never answers 500 and never answers
outside the documented statuses, content types, headers and bodies."""

from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import services
from api.models import ApiRight
from tests.factories import AccountFactory, SeriesFactory, generate, make_card
from topup.models import Card, EpinProduct

REDEMPTION_PATHS = r"/(redemptions|accounts/)"
OPERATIONS_PATHS = r"/(epins|series|cards)"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def anywhere_key(tree):
    """A key of North usable from any address (the WSGI client sends none)."""
    return services.api_key_create(
        user=tree["operator"], name="Fuzz", reseller=tree["north"], networks=["0.0.0.0/0", "::/0"]
    )


@pytest.fixture
def real():
    """Account numbers and PINs that exist, filled in by `api_schema`."""
    return {}


@pytest.fixture
def api_schema(db, tree, anywhere_key, settings, real):
    settings.REDEEM_API_KEY_FAILURES = 10**6  # the key's lockout is tested elsewhere
    accounts = [AccountFactory(reseller=tree["north"], user=None) for _ in range(2)]
    accounts.append(AccountFactory(reseller=tree["south"], currency="EUR", user=None))
    series = SeriesFactory(reseller=tree["north"])
    pins = [make_card(series=series)[1] for _ in range(3)]
    numbers = [a.number for a in accounts]
    real.update(numbers=numbers, pins=[*pins, "000000000000"])

    # As Django's test client does: requests must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())

    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_every_answer_is_documented_and_none_is_a_server_error(api_schema, anywhere_key, real):
    _, token = anywhere_key
    # The redemption endpoints; the operations endpoints have their own run below.
    redemption = api_schema.include(path_regex=REDEMPTION_PATHS)
    cases = st.one_of(
        redemption.as_strategy(GenerationMode.POSITIVE),
        redemption.as_strategy(GenerationMode.NEGATIVE),
    )
    statuses = set()

    @given(case=cases, data=st.data())
    @seed(20261125)
    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case, data):
        # Most generated values are replaced by real ones, so that redemptions credit, repeat,
        # lock out and replay, and balances are found, as well as refused.
        if data.draw(st.integers(0, 3)) != 3:  # (hypothesis favours 0)
            if isinstance(case.body, dict):
                case.body = {
                    **case.body,
                    "account": data.draw(st.sampled_from(real["numbers"])),
                    "pin": data.draw(st.sampled_from(real["pins"])),
                }
            if isinstance(case.path_parameters, dict) and "number" in case.path_parameters:
                case.path_parameters["number"] = data.draw(st.sampled_from(real["numbers"]))
            if isinstance(case.headers, dict) and "Idempotency-Key" in case.headers:
                case.headers["Idempotency-Key"] = data.draw(st.sampled_from(["k1", "k2", "k3"]))
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
        statuses.add((case.method, response.status_code))

    call()
    # The generated input reached every kind of answer, not only the refusals.
    assert {("POST", 201), ("POST", 200), ("POST", 422), ("POST", 400), ("GET", 200)} <= statuses


def test_the_operations_endpoints_answer_as_documented_for_a_key_with_every_right(api_schema, tree):
    _, token = services.api_key_create(
        user=tree["operator"],
        name="Fuzz ops",
        reseller=tree["north"],
        networks=["0.0.0.0/0", "::/0"],
        rights=[right.value for right in ApiRight],
    )
    series = generate(tree["operator"], tree["north"], quantity=30, code="801")
    south = generate(tree["operator"], tree["south"], quantity=1, code="802", currency="EUR")
    EpinProduct.objects.create(
        code="usd10", name="10 USD", amount=Decimal("10.00"), currency="USD", reseller=tree["root"]
    ).series.add(series)
    numbers = list(Card.objects.values_list("number", flat=True)[:3]) + ["802-00000001"]
    operations = api_schema.include(path_regex=OPERATIONS_PATHS)
    cases = st.one_of(
        operations.as_strategy(GenerationMode.POSITIVE),
        operations.as_strategy(GenerationMode.NEGATIVE),
    )
    statuses = set()

    @given(case=cases, data=st.data())
    @seed(20261206)
    @settings(
        max_examples=80,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case, data):
        if data.draw(st.integers(0, 3)) != 3:
            if isinstance(case.body, dict):
                case.body = {"product": "usd10"}
            params = case.path_parameters if isinstance(case.path_parameters, dict) else {}
            if "number" in params:
                params["number"] = data.draw(st.sampled_from(numbers))
            if "series_id" in params:
                params["series_id"] = data.draw(st.sampled_from([series.pk, south.pk]))
            if isinstance(case.headers, dict) and "Idempotency-Key" in case.headers:
                case.headers["Idempotency-Key"] = data.draw(st.sampled_from(["e1", "e2"]))
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
        statuses.add((case.method, response.status_code))

    call()
    assert {("POST", 201), ("GET", 200), ("GET", 404), ("POST", 400)} <= statuses
