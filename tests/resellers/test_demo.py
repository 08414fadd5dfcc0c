import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from billing.models import Account
from config.embedded import DEMO_COMMENT
from resellers.models import Reseller, User
from tests.factories import AccountFactory, UserFactory
from topup.management.commands.demo_data import Command as DemoData
from topup.models import Card


@pytest.mark.django_db
def test_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_data")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_demo_refuses_a_database_with_users_that_is_not_the_demos_own(settings, tree):
    """Finding 7: even with DEBUG on, a real database's accounts get no known-password user."""
    settings.DEBUG = True
    existing = AccountFactory(name="Alice Adams", reseller=tree["north"], user=None)
    users = User.objects.count()
    with pytest.raises(CommandError, match="no users"):
        call_command("demo_data")
    assert User.objects.count() == users
    assert not User.objects.filter(username="operator").exists()
    existing.refresh_from_db()
    assert existing.user is None


@pytest.mark.django_db
def test_demo_runs_on_an_empty_database_then_refuses_to_run_again_there(settings, role_groups):
    settings.DEBUG = True
    assert not DemoData.is_demo_database()  # the test database is PostgreSQL, not the demo
    call_command("demo_data")
    assert User.objects.filter(username="operator").exists()
    with pytest.raises(CommandError):
        call_command("demo_data")


@pytest.mark.django_db
def test_demo_is_idempotent_on_the_demo_database(settings, client, monkeypatch, role_groups):
    settings.DEBUG = True
    monkeypatch.setattr(DemoData, "is_demo_database", staticmethod(lambda db=None: True))
    UserFactory(username="someone")  # the demo database may already hold users
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
def test_only_the_database_marked_by_make_demo_counts_as_the_demo():
    assert not DemoData.is_demo_database()
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(f'COMMENT ON DATABASE "{name}" IS %s', [DEMO_COMMENT])
        assert DemoData.is_demo_database()
        cursor.execute(f'COMMENT ON DATABASE "{name}" IS %s', ["topup"])
    assert not DemoData.is_demo_database()


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
