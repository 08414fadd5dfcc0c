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


@pytest.mark.django_db
def test_demo_data_is_made_through_the_sections_services(settings):
    from resellers.models import AuditEvent

    settings.DEBUG = True
    call_command("demo_data")
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("reseller.created") == 3
    assert actions.count("user.created") == 3
    assert actions.count("account.opened") == 3
    assert actions.count("account.balance_adjusted") == 3
    assert not User.objects.filter(must_change_password=True).exists()
