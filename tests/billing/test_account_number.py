import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from billing.models import Account
from billing.numbers import is_valid_account_number, luhn_digit
from tests.factories import AccountFactory, ResellerFactory
from tests.topup.test_redemption import run_in_threads


@pytest.mark.django_db
def test_a_new_account_gets_a_valid_unique_number_without_asking():
    reseller = ResellerFactory()
    first = Account.objects.create(name="A", reseller=reseller, currency="USD")
    second = AccountFactory(reseller=reseller)
    assert is_valid_account_number(first.number) and is_valid_account_number(second.number)
    assert first.number != second.number
    first.refresh_from_db()
    assert len(first.number) == 9
    # Saving again keeps the number.
    number = first.number
    first.name = "A2"
    first.save()
    first.refresh_from_db()
    assert first.number == number


@pytest.mark.django_db
def test_bulk_created_accounts_are_numbered_too():
    reseller = ResellerFactory()
    accounts = Account.objects.bulk_create(
        [Account(name=f"B{i}", reseller=reseller, currency="USD") for i in range(5)]
    )
    numbers = set(Account.objects.filter(name__startswith="B").values_list("number", flat=True))
    assert numbers == {a.number for a in accounts} and len(numbers) == 5
    assert all(is_valid_account_number(n) for n in numbers)


@pytest.mark.django_db
def test_the_database_refuses_a_duplicate_or_malformed_number():
    account = AccountFactory()
    for number in (account.number, "12ab56789", "0123456789"):
        with pytest.raises(IntegrityError), transaction.atomic():
            AccountFactory(reseller=account.reseller, number=number)


def test_the_check_digit_catches_every_single_typo_and_swap():
    base = "10000042"
    number = base + luhn_digit(base)
    assert is_valid_account_number(number)
    for i, char in enumerate(number):
        for digit in "0123456789":
            if digit != char:
                assert not is_valid_account_number(number[:i] + digit + number[i + 1 :])
    for i in range(len(number) - 1):
        swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        # Luhn's one blind spot is 09 <-> 90.
        if swapped != number and {number[i], number[i + 1]} != {"0", "9"}:
            assert not is_valid_account_number(swapped)
    for bad in ("", "12345678", "1" * 13, "１２３４５６７８９", "12345678a"):
        assert not is_valid_account_number(bad)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_creations_never_share_a_number():
    reseller = ResellerFactory()

    def create(i):
        with transaction.atomic():
            return Account.objects.create(name=f"C{i}", reseller=reseller, currency="USD").number

    numbers = run_in_threads([(create, {"i": i}) for i in range(20)])
    assert len(set(numbers)) == 20
    assert Account.objects.filter(number__in=numbers).count() == 20


@pytest.mark.django_db(transaction=True)
def test_the_migration_numbers_existing_accounts():
    executor = MigrationExecutor(connection)
    executor.migrate([("billing", "0003_ledger_append_only")])
    try:
        old_apps = executor.loader.project_state([("billing", "0003_ledger_append_only")]).apps
        OldAccount = old_apps.get_model("billing", "Account")
        reseller = ResellerFactory()
        for i in range(3):
            OldAccount.objects.create(name=f"Old {i}", reseller_id=reseller.pk, currency="USD")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    numbers = list(Account.objects.filter(name__startswith="Old").values_list("number", flat=True))
    assert len(set(numbers)) == 3 and all(is_valid_account_number(n) for n in numbers)
    # New accounts continue from the sequence the migration created.
    assert AccountFactory(reseller=reseller, user=None).number not in numbers


def test_balance_page_shows_the_account_number(customer_client, customer):
    response = customer_client.get(reverse("billing:balance"))
    assert f'data-testid="account-number">{customer.number}<' in response.content.decode()


def test_staff_see_numbers_in_the_account_list(operator_client, customer):
    response = operator_client.get(reverse("billing:account-list"))
    assert customer.number in response.content.decode()


@pytest.mark.django_db
def test_the_admin_finds_an_account_by_number_and_cannot_edit_it(admin_client, customer):
    other = AccountFactory(reseller=customer.reseller)
    url = reverse("admin:billing_account_changelist")
    page = admin_client.get(url, {"q": customer.number}).content.decode()
    assert customer.number in page and other.number not in page
    change = reverse("admin:billing_account_change", args=[customer.pk])
    assert 'name="number"' not in admin_client.get(change).content.decode()
