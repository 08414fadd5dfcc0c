from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Transaction
from billing.services import account_credit
from tests import factories


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME')} at {_where(db)}"


def _where(db: dict) -> str:
    """Host and port, or the socket's directory (the embedded server's)."""
    if db.get("HOST"):
        return f"{db['HOST']}:{db.get('PORT') or 'default port'}"
    return f"the socket in {db.get('OPTIONS', {}).get('host') or 'the default directory'}"


_DATABASE_USED = []


@pytest.fixture(autouse=True, scope="session")
def _note_database(django_db_setup, django_db_blocker):
    if not connection.settings_dict["NAME"].startswith("test_"):
        return  # no collected test uses the database, so none was set up
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
    db = connection.settings_dict
    _DATABASE_USED.append(f"{version} at {_where(db)}, test database {db['NAME']}")


def pytest_terminal_summary(terminalreporter):
    """Say which database the run used, after the results (shown even with -q)."""
    for line in _DATABASE_USED:
        terminalreporter.write_line(f"database: {line}")


@pytest.fixture(scope="session", autouse=True)
def _migrated_groups(django_db_setup, django_db_blocker) -> dict[str, list[tuple[str, str]]]:
    """The groups and their rights exactly as the migrations left them, read once."""
    from django.contrib.auth.models import Group

    if not connection.settings_dict["NAME"].startswith("test_"):
        return {}  # no collected test uses the database, so none was set up
    with django_db_blocker.unblock():
        return {
            group.name: list(group.permissions.values_list("content_type__app_label", "codename"))
            for group in Group.objects.all()
        }


@pytest.fixture
def role_groups(db, _migrated_groups):
    """The groups of the data migrations (a transactional test's flush removes them)."""
    factories.restore_groups(_migrated_groups)


@pytest.fixture
def tree(role_groups):
    """root -> north -> north_retail, root -> south; one staff user per company."""
    root = factories.ResellerFactory(name="Root", currency="USD")
    north = factories.ResellerFactory(name="North", currency="USD", parent=root)
    south = factories.ResellerFactory(name="South", currency="EUR", parent=root)
    north_retail = factories.ResellerFactory(name="North Retail", currency="USD", parent=north)
    return {
        "root": root,
        "north": north,
        "south": south,
        "north_retail": north_retail,
        "operator": factories.operator(root, username="op"),
        "north_user": factories.reseller_user(north, username="northuser"),
        "south_user": factories.reseller_user(south, username="southuser"),
        "retail_user": factories.reseller_user(north_retail, username="retailuser"),
    }


@pytest.fixture
def customer(tree):
    account = factories.AccountFactory(reseller=tree["north"], currency="USD")
    account_credit(
        account=account,
        amount=Decimal("5.00"),
        kind=Transaction.Kind.OPENING,
        description="Opening balance",
    )
    return account


@pytest.fixture
def operator_client(client, tree):
    client.force_login(tree["operator"])
    return client


@pytest.fixture
def reseller_client(client, tree):
    client.force_login(tree["north_user"])
    return client


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer.user)
    return client
