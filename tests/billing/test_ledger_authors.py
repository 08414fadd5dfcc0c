"""Finding 8: ledger rows keep their author; TRUNCATE of the ledger is refused."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse

from billing.models import Transaction
from billing.services import account_credit
from tests.factories import AccountFactory, UserFactory


@pytest.fixture
def author_with_a_posting(tree):
    author = UserFactory(username="clerk", reseller=tree["root"])
    account = AccountFactory(reseller=tree["north"])
    account_credit(
        account=account,
        amount=Decimal("3.00"),
        kind=Transaction.Kind.MANUAL_PAYMENT,
        description="Cash at the desk",
        user=author,
    )
    return author


@pytest.mark.django_db
def test_a_user_named_on_the_ledger_cannot_be_deleted(author_with_a_posting):
    with pytest.raises(ProtectedError), transaction.atomic():
        author_with_a_posting.delete()
    assert Transaction.objects.get().created_by == author_with_a_posting


@pytest.mark.django_db
def test_the_admin_says_deactivate_instead(admin_client, author_with_a_posting):
    url = reverse("admin:resellers_user_delete", args=[author_with_a_posting.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "Deactivate the user instead" in page.content.decode()
    admin_client.post(url, {"post": "yes"})
    assert Transaction.objects.get().created_by_id == author_with_a_posting.pk
    # The bulk action says the same.
    page = admin_client.post(
        reverse("admin:resellers_user_changelist"),
        {"action": "delete_selected", "_selected_action": [author_with_a_posting.pk]},
    )
    assert "Deactivate the user instead" in page.content.decode()
    author_with_a_posting.refresh_from_db()
    assert author_with_a_posting.is_active


@pytest.mark.django_db
def test_a_user_on_no_ledger_row_can_still_be_deleted(tree):
    user = UserFactory(username="temp", reseller=tree["north"])
    user.delete()
    assert not type(user).objects.filter(username="temp").exists()


@pytest.mark.django_db
def test_truncate_of_the_ledger_is_refused_for_the_application_role(author_with_a_posting):
    role = f"{connection.settings_dict['NAME']}_app_probe"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP ROLE IF EXISTS "{role}"')
        cursor.execute(f'CREATE ROLE "{role}"')
        try:
            # Even with the privilege to TRUNCATE, the trigger refuses it.
            cursor.execute(f'GRANT TRUNCATE ON billing_transaction TO "{role}"')
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
                cursor.execute(f'SET LOCAL ROLE "{role}"')
                cursor.execute("TRUNCATE billing_transaction CASCADE")
        finally:
            cursor.execute("RESET ROLE")
            cursor.execute(f'REVOKE ALL ON billing_transaction FROM "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')
    assert Transaction.objects.count() == 1
