from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import AccountFactory, make_card


@pytest.mark.django_db
def test_database_refuses_a_negative_card_amount():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_card(amount=Decimal("-5.00"))


@pytest.mark.django_db
def test_database_refuses_an_unknown_status():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_card(status="lost")


@pytest.mark.django_db
def test_database_refuses_activated_without_date_or_account():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_card(status="activated")
    account = AccountFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_card(status="new", activated_at=timezone.now(), activated_by=account)


@pytest.mark.django_db
def test_database_refuses_two_cards_with_one_pin_or_number():
    card, pin = make_card()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_card(pin=pin)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_card(number=card.number)
