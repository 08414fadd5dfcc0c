"""E-PINs: made on demand when the stock is empty, four eyes, void codes, e-mail language."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from api import services as api_services
from resellers.models import AuditEvent
from tests import factories
from tests.api.test_epins import EPINS, new_key, sell
from topup.models import Card, CardSale, EpinProduct, Series
from topup.services import RedeemOutcome, card_redeem


@pytest.fixture
def made(tree):
    """A product with no stock that makes a card per sale, valid 30 days."""
    return EpinProduct.objects.create(
        code="usd5",
        name="5 USD",
        amount=Decimal("5.00"),
        currency="USD",
        reseller=tree["root"],
        validity_days=30,
        make_on_demand=True,
        series_code="E5",
        created_by=tree["operator"],
    )


@pytest.mark.django_db
def test_with_no_stock_a_card_is_made_for_the_sale_and_redeems_once(tree, made):
    token = new_key(tree)
    first, second = sell(token, "d-1", product="usd5"), sell(token, "d-2", product="usd5")
    assert (first.status_code, second.status_code) == (201, 201)
    one, two = first.json(), second.json()
    assert one["pin"] != two["pin"] and (one["card"], two["card"]) == ("E5-00000001", "E5-00000002")
    card = Card.objects.get(number=one["card"])
    assert card.reseller == tree["north"] and card.status == "new"
    assert timedelta(days=29) < card.expires_at - timezone.now() <= timedelta(days=30)
    assert Series.objects.filter(code="E5", created_by=tree["operator"]).count() == 2
    assert made.series.count() == 0  # made cards are not stock
    assert AuditEvent.objects.filter(action="epin.sold", details__made_on_demand=True).count() == 2
    # A replay answers the same made card, not a third one.
    assert sell(token, "d-1", product="usd5").json() == one
    account = factories.AccountFactory(reseller=tree["north"], currency="USD", user=None)
    redeem = [
        card_redeem(account=account, typed_pin=one["pin"], client_address="192.0.2.9").outcome
        for _ in range(2)
    ]
    assert redeem == [RedeemOutcome.SUCCESS, RedeemOutcome.ALREADY]


@pytest.mark.django_db
def test_a_product_that_does_not_make_cards_or_whose_maker_lost_the_right_is_out_of_stock(
    tree, made
):
    token = new_key(tree)
    EpinProduct.objects.filter(pk=made.pk).update(make_on_demand=False)
    assert sell(token, "o-1", product="usd5").json() == {"status": "out_of_stock"}
    EpinProduct.objects.filter(pk=made.pk).update(
        make_on_demand=True, created_by=tree["north_user"]
    )
    assert sell(token, "o-2", product="usd5").json() == {"status": "out_of_stock"}
    assert not CardSale.objects.exists() and not Series.objects.exists()
    # Another company's product is not sold to South's keys (nor made for them).
    EpinProduct.objects.filter(pk=made.pk).update(
        reseller=tree["north"], created_by=tree["operator"]
    )
    assert sell(new_key(tree, "south"), "o-3", product="usd5").json() == {"status": "out_of_stock"}


@pytest.mark.django_db
def test_four_eyes_a_key_never_sells_its_creators_own_series(tree, made, settings):
    settings.TOPUP_FOUR_EYES = True
    other = factories.operator(tree["root"], username="op2")
    stock = factories.generate(other, tree["north"], quantity=2, code="601", amount=Decimal("5.00"))
    made.series.add(stock)
    EpinProduct.objects.filter(pk=made.pk).update(make_on_demand=False)
    # op2 generated the stock: op2's key finds none of it; the operator's key sells it.
    theirs = factories_key(tree, other)
    assert sell(theirs, "f-1", product="usd5").json() == {"status": "out_of_stock"}
    sold = sell(new_key(tree), "f-2", product="usd5")
    assert sold.status_code == 201 and sold.json()["card"].startswith("601-")
    # A card made in the operator's name is refused to the operator's own key, and nothing
    # of the made series is left behind.
    EpinProduct.objects.filter(pk=made.pk).update(make_on_demand=True)
    Card.objects.filter(series=stock).update(status="void")
    refused = sell(new_key(tree), "f-3", product="usd5")
    assert refused.status_code == 403 and refused.json()["status"] == "four_eyes"
    assert "E5" in refused.json()["reason"]
    assert not Series.objects.filter(code="E5").exists()
    made_for_other = sell(theirs, "f-4", product="usd5")
    assert made_for_other.status_code == 201 and made_for_other.json()["card"] == "E5-00000001"


def factories_key(tree, user):
    return api_services.api_key_create(
        user=user, name="shop", reseller=tree["north"], networks=["127.0.0.0/8"],
        rights=["sell_epins"],
    )[1]  # fmt: skip


@pytest.mark.django_db
def test_a_void_refusal_says_why_with_a_stable_code(tree, made, settings):
    token = new_key(tree)
    headers = {"Authorization": f"Bearer {token}"}
    body = sell(token, "v-1", product="usd5").json()
    void = f"{EPINS}/{body['sale']}/void"
    assert Client().post(void, headers=headers).json()["status"] == "voided"
    again = Client().post(void, headers=headers).json()
    assert again["code"] == "voided"
    late = sell(token, "v-2", product="usd5").json()
    CardSale.objects.filter(pk=late["sale"]).update(created_at=timezone.now() - timedelta(hours=1))
    answer = Client().post(f"{EPINS}/{late['sale']}/void", headers=headers)
    assert answer.status_code == 409 and answer.json()["code"] == "too_late"
    assert answer.json()["reason"] == "Too late to void this sale."
    redeemed = sell(token, "v-3", product="usd5").json()
    account = factories.AccountFactory(reseller=tree["north"], currency="USD", user=None)
    card_redeem(account=account, typed_pin=redeemed["pin"], client_address="192.0.2.9")
    answer = Client().post(f"{EPINS}/{redeemed['sale']}/void", headers=headers)
    assert answer.json()["code"] == "changed"
    # Another reseller's key: 404, whatever the sale.
    south = {"Authorization": f"Bearer {new_key(tree, 'south')}"}
    assert Client().post(f"{EPINS}/{late['sale']}/void", headers=south).status_code == 404


@pytest.mark.django_db
def test_the_e_mail_is_written_in_the_language_asked_for(tree, made, mailoutbox):
    token = new_key(tree)
    sell(token, "l-1", product="usd5", email="a@example.com", language="es")
    sell(token, "l-2", product="usd5", email="b@example.com")
    Client().post(
        EPINS,
        data={"product": "usd5", "email": "c@example.com"},
        content_type="application/json",
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": "l-3",
            "Accept-Language": "fr-CH, fr;q=0.9",
        },
    )
    spanish, english, french = (message.body for message in mailoutbox)
    assert "5,00\xa0US$" in spanish
    assert "$5.00" in english
    assert "5,00\xa0$US" in french
    assert (
        sell(token, "l-4", product="usd5", email="d@example.com", language="x!").status_code == 400
    )
