"""Wallet fixtures: North billed (prepaid unless a test changes it), series in stock."""

from decimal import Decimal

import pytest

from tests.factories import generate
from wallets.services import wallet_configure


def bill(tree, reseller="north", **settings):
    """Set a reseller's billing as the operator does it; returns the wallet."""
    values = {
        "billing_mode": "prepaid",
        "discount": Decimal("10"),
        "credit_limit": Decimal("0"),
    } | settings
    return wallet_configure(actor=tree["operator"], reseller=tree[reseller], **values)


@pytest.fixture
def stock(tree):
    """Series 300: twenty cards of 10.00 USD in stock, owned by the operator's company."""
    return generate(
        tree["operator"], tree["root"], quantity=20, code="300", amount=Decimal("10"),
        in_stock=True,
    )  # fmt: skip
