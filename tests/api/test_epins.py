"""E-PINs on demand: 50 simultaneous sales take 50 different cards; replay; void."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from api import services
from api.models import IdempotencyRecord
from resellers.models import AuditEvent
from tests.factories import AccountFactory, generate
from tests.topup.test_redemption import run_in_threads
from topup.models import Card, CardSale, EpinProduct
from topup.services import RedeemOutcome, card_pin, card_redeem

EPINS = "/api/v1/epins"


def sell(token, idempotency_key="s-1", client=None, **body):
    return (client or Client()).post(
        EPINS,
        data=json.dumps(body or {"product": "usd10"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key},
    )


def new_key(tree, reseller="north", rights=("sell_epins",)):
    return services.api_key_create(
        user=tree["operator"],
        name="web shop",
        reseller=tree[reseller],
        networks=["127.0.0.0/8"],
        rights=list(rights),
    )[1]


@pytest.fixture
def stock(tree):
    """North's e-PIN stock: 60 released cards of 10.00 USD, sold as product "usd10"."""
    series = generate(tree["operator"], tree["north"], quantity=60, code="501")
    product = EpinProduct.objects.create(
        code="usd10",
        name="10 USD",
        amount=Decimal("10.00"),
        currency="USD",
        reseller=tree["root"],
        created_by=tree["operator"],
    )
    product.series.add(series)
    return series


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_sales_sell_fifty_different_cards(tree, stock):
    tokens = [new_key(tree) for _ in range(5)]

    def post(token, idempotency_key):
        response = sell(token, idempotency_key)
        return response.status_code, response.json()

    answers = run_in_threads(
        [(post, {"token": tokens[i % 5], "idempotency_key": f"sale-{i}"}) for i in range(50)]
    )
    assert [status for status, _ in answers] == [201] * 50
    pins = {body["pin"] for _, body in answers}
    cards = {body["card"] for _, body in answers}
    assert len(pins) == 50 and len(cards) == 50
    assert CardSale.objects.count() == 50
    assert set(CardSale.objects.values_list("card__number", flat=True)) == cards
    assert AuditEvent.objects.filter(action="epin.sold").count() == 50
    # The PIN is stored nowhere in clear: not in the stored answers, not in the audit.
    stored = json.dumps(list(IdempotencyRecord.objects.values_list("body", flat=True)))
    stored += json.dumps(list(AuditEvent.objects.values_list("details", flat=True)))
    assert not any(pin in stored for pin in pins)
    # Each sold PIN redeems once, for a customer of North's subtree.
    account = AccountFactory(reseller=tree["north_retail"], currency="USD", user=None)
    for _, body in answers[:10]:
        first = card_redeem(account=account, typed_pin=body["pin"], client_address="192.0.2.9")
        again = card_redeem(account=account, typed_pin=body["pin"], client_address="192.0.2.9")
        assert (first.outcome, again.outcome) == (RedeemOutcome.SUCCESS, RedeemOutcome.ALREADY)
    account.refresh_from_db()
    assert account.balance == Decimal("100.00")


@pytest.mark.django_db
def test_a_replay_shows_the_pin_to_the_same_key_within_the_window_only(tree, stock, settings):
    token, other = new_key(tree), new_key(tree)
    first = sell(token, "k-1")
    assert first.status_code == 201 and first["Cache-Control"].startswith("no-store")
    again = sell(token, "k-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # The same Idempotency-Key from another key is that key's own new sale.
    theirs = sell(other, "k-1")
    assert theirs.status_code == 201 and theirs.json()["pin"] != first.json()["pin"]
    # Another request under the same key is refused.
    assert sell(token, "k-1", amount="10.00", currency="USD").status_code == 409
    # After the window: never again.
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    late = sell(token, "k-1")
    assert late.status_code == 410 and "pin" not in late.json()
    assert CardSale.objects.count() == 2


@pytest.mark.django_db
def test_a_sale_by_amount_a_key_without_the_right_and_no_stock(tree, stock):
    token = new_key(tree)
    sold = sell(token, "a-1", amount="10.00", currency="USD")
    assert sold.status_code == 201 and sold.json()["amount"] == "10.00"
    assert sell(token, "a-2", amount="20.00", currency="USD").json() == {"status": "out_of_stock"}
    assert sell(new_key(tree, rights=()), "a-3").status_code == 403
    # South's key finds nothing of North's stock.
    assert sell(new_key(tree, "south"), "a-4").json() == {"status": "out_of_stock"}
    assert sell(token, "a-5", product="usd10", amount="10.00").status_code == 400
    assert CardSale.objects.count() == 1


@pytest.mark.django_db
def test_a_sale_is_voided_within_minutes_and_its_pin_never_redeems(tree, stock):
    token = new_key(tree)
    body = sell(token, "v-1").json()
    headers = {"Authorization": f"Bearer {token}"}
    void = f"{EPINS}/{body['sale']}/void"
    assert (
        Client().post(void, headers={"Authorization": f"Bearer {new_key(tree)}"}).status_code == 404
    )
    assert Client().post(void, headers=headers).json() == {"status": "voided", "sale": body["sale"]}
    assert Card.objects.get(number=body["card"]).status == "void"
    assert Client().post(void, headers=headers).status_code == 409
    account = AccountFactory(reseller=tree["north"], currency="USD", user=None)
    assert card_redeem(
        account=account, typed_pin=body["pin"], client_address="192.0.2.9"
    ).outcome == (RedeemOutcome.FAILED)
    assert sell(token, "v-1").status_code == 410  # a voided sale's PIN is not shown again
    late = sell(token, "v-2").json()
    CardSale.objects.filter(pk=late["sale"]).update(created_at=timezone.now() - timedelta(hours=1))
    assert Client().post(f"{EPINS}/{late['sale']}/void", headers=headers).status_code == 409
    assert AuditEvent.objects.filter(action="epin.voided").count() == 1


@pytest.mark.django_db
def test_with_an_address_the_pin_goes_by_e_mail_only(tree, stock, mailoutbox):
    token = new_key(tree)
    sold = sell(token, "m-1", product="usd10", email="customer@example.com")
    body = sold.json()
    assert sold.status_code == 201 and body["delivery"] == "email" and body.get("pin") is None
    (message,) = mailoutbox
    card = Card.objects.get(number=body["card"])
    pin = card_pin(card)
    assert message.to == ["customer@example.com"] and pin in message.body
    assert body["card"] in message.body
    # A retry within the window sends the same PIN again, still not in the answer.
    again = sell(token, "m-1", product="usd10", email="customer@example.com")
    assert again.status_code == 201 and "pin" not in again.content.decode().replace(
        '"pin": null', ""
    )
    assert len(mailoutbox) == 2 and pin in mailoutbox[1].body
    # Stored nowhere in clear.
    stored = json.dumps(list(IdempotencyRecord.objects.values_list("body", flat=True)))
    assert pin not in stored and "customer@example.com" not in stored
    bad = sell(token, "m-2", product="usd10", email="not an address")
    assert bad.status_code == 400 and len(mailoutbox) == 2
