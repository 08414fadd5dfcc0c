import json
from decimal import Decimal
from unittest.mock import ANY

import pytest

from api import services
from billing.models import Transaction
from billing.services import account_credit
from tests.factories import AccountFactory, SeriesFactory, make_card

REDEMPTIONS = "/api/v1/redemptions"


def balance_url(number: str) -> str:
    return f"/api/v1/accounts/{number}/balance"


@pytest.fixture
def north_key(tree):
    """A key of North (its subtree: North and North Retail), for the loopback network."""
    return services.api_key_create(
        user=tree["operator"],
        name="North IVR",
        reseller=tree["north"],
        networks=["127.0.0.0/8", "::1"],
    )


@pytest.fixture
def account(tree):
    account = AccountFactory(reseller=tree["north_retail"], currency="USD", user=None)
    account_credit(
        account=account,
        amount=Decimal("25.00"),
        kind=Transaction.Kind.OPENING,
        description="Opening balance",
    )
    return account


@pytest.fixture
def card(tree):
    series = SeriesFactory(code="101", reseller=tree["north"], amount=Decimal("10.00"))
    return make_card(series=series, number="101-00000007")


def redeem(client, token, account, pin, idempotency_key="k-1", **extra):
    """POST a redemption; returns the response."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(
        REDEMPTIONS,
        data=json.dumps({"account": account, "pin": pin}),
        content_type="application/json",
        headers=headers,
        **extra,
    )


def error_body(status: str, **fields) -> dict:
    """An error answer of the redemption API: its `status` as before, with the stable `code`
    (the same word) and a `detail` for people beside it."""
    return {"status": status, "code": status, "detail": ANY, **fields}
