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
def api_schema(db, tree, anywhere_key, settings):
    settings.REDEEM_API_KEY_FAILURES = 10**6  # the key's lockout is tested elsewhere
    accounts = [AccountFactory(reseller=tree["north"], user=None) for _ in range(2)]
    accounts.append(AccountFactory(reseller=tree["south"], currency="EUR", user=None))
    series = SeriesFactory(reseller=tree["north"])
    pins = [make_card(series=series)[1] for _ in range(3)]
    numbers = [a.number for a in accounts]

    # As Django's test client does: requests must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())

    # Half of the generated values are replaced by real ones, so that redemptions credit,
    # repeat, lock out and replay, and balances are found, as well as refused.
    @schema.hook
    def flatmap_body(context, body):
        if not isinstance(body, dict):
            return st.just(body)
        return st.one_of(
            st.just(body),
            st.builds(
                lambda account, pin: {**body, "account": account, "pin": pin},
                st.sampled_from(numbers),
                st.sampled_from([*pins, body.get("pin", "")]),
            ),
        )

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        if not isinstance(path_parameters, dict) or "number" not in path_parameters:
            return st.just(path_parameters)
        return st.one_of(
            st.just(path_parameters),
            st.sampled_from(numbers).map(lambda n: {**path_parameters, "number": n}),
        )

    @schema.hook
    def flatmap_headers(context, headers):
        # Idempotency keys from a small set, so that retries and reuses happen.
        if not isinstance(headers, dict) or "Idempotency-Key" not in headers:
            return st.just(headers)
        return st.one_of(
            st.just(headers),
            st.sampled_from(["k1", "k2"]).map(lambda k: {**headers, "Idempotency-Key": k}),
        )

    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_every_answer_is_documented_and_none_is_a_server_error(api_schema, anywhere_key):
    _, token = anywhere_key
    cases = st.one_of(
        api_schema.as_strategy(GenerationMode.POSITIVE),
        api_schema.as_strategy(GenerationMode.NEGATIVE),
    )
    statuses = set()

    @given(case=cases)
    @seed(20261125)
    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
        statuses.add((case.method, response.status_code))

    call()
    # The generated input reached every kind of answer, not only the refusals.
    assert {("POST", 201), ("POST", 200), ("POST", 422), ("POST", 400), ("GET", 200)} <= statuses
