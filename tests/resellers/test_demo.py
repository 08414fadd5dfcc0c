import pytest
from django.core.management import CommandError, call_command

from billing.models import Account
from resellers.models import Reseller, User
from topup.models import Card


@pytest.mark.django_db
def test_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_data")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_demo_is_idempotent_and_balances_match_the_ledger(settings, client):
    settings.DEBUG = True
    call_command("demo_data")
    call_command("demo_data")
    assert Reseller.objects.count() == 4
    assert Card.objects.count() == 50
    assert {a.currency for a in Account.objects.all()} == {"USD", "EUR"}
    for account in Account.objects.all():
        assert account.transactions.count() == 1
        assert account.balance == account.transactions.get().amount
    assert client.login(username="operator", password="topup-demo")
