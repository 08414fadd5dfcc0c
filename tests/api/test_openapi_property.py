"""Property-based: every endpoint of the OpenAPI document, driven with generated input
(schemathesis over hypothesis, fixed seed, bounded), never answers 500 and never answers
outside the documented statuses, content types, headers and bodies."""

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
from tests.factories import AccountFactory, SeriesFactory, make_card

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
    cases = st.one_of(
        api_schema.as_strategy(GenerationMode.POSITIVE),
        api_schema.as_strategy(GenerationMode.NEGATIVE),
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
