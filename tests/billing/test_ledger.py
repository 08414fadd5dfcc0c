from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Sum

from billing.models import Account, Transaction
from billing.services import InsufficientFunds, account_credit, account_debit
from tests.factories import AccountFactory

KIND = Transaction.Kind.MANUAL_PAYMENT


def ledger_sum(account) -> Decimal:
    return account.transactions.aggregate(s=Sum("amount"))["s"] or Decimal("0")


@pytest.mark.django_db
def test_balance_equals_ledger_sum_after_credits_and_debits_including_a_failed_one():
    account = AccountFactory(currency="USD")
    account_credit(account=account, amount=Decimal("10.00"), kind=KIND, description="in")
    account_debit(
        account=account,
        amount=Decimal("3.25"),
        kind=Transaction.Kind.MANUAL_CHARGE,
        description="out",
    )
    with pytest.raises(InsufficientFunds):
        account_debit(
            account=account,
            amount=Decimal("100.00"),
            kind=Transaction.Kind.MANUAL_CHARGE,
            description="too much",
        )
    account.refresh_from_db()
    assert account.balance == Decimal("6.75")
    assert ledger_sum(account) == account.balance
    assert account.transactions.count() == 2
    assert list(account.transactions.order_by("pk").values_list("balance_after", flat=True)) == [
        Decimal("10.00"),
        Decimal("6.75"),
    ]


@pytest.mark.django_db
def test_a_failure_after_the_posting_rolls_back_balance_and_ledger():
    account = AccountFactory(currency="USD")
    with pytest.raises(RuntimeError), transaction.atomic():
        account_credit(account=account, amount=Decimal("9.99"), kind=KIND, description="x")
        raise RuntimeError("boom")
    account.refresh_from_db()
    assert account.balance == Decimal("0.00")
    assert not account.transactions.exists()


@pytest.mark.django_db
def test_a_reference_moves_money_once():
    account = AccountFactory(currency="USD")
    account_credit(
        account=account, amount=Decimal("1.00"), kind=KIND, description="a", reference="r1"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        account_credit(
            account=account, amount=Decimal("1.00"), kind=KIND, description="a", reference="r1"
        )
    account.refresh_from_db()
    assert account.balance == Decimal("1.00") == ledger_sum(account)


@pytest.mark.django_db
def test_money_is_decimal_with_two_places():
    account = AccountFactory(currency="USD")
    with pytest.raises(TypeError):
        account_credit(account=account, amount=1.5, kind=KIND, description="float")
    with pytest.raises(ValidationError):
        account_credit(account=account, amount=Decimal("1.005"), kind=KIND, description="x")
    with pytest.raises(ValidationError):
        account_credit(account=account, amount=Decimal("-1"), kind=KIND, description="x")
    assert Account.objects.get(pk=account.pk).balance == 0


@pytest.mark.django_db
def test_database_refuses_a_negative_balance_and_a_zero_posting():
    account = AccountFactory(currency="USD")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.create(
            account=account, amount=0, balance_after=0, kind=KIND, description="zero"
        )


@pytest.mark.django_db
def test_the_database_refuses_to_change_or_delete_ledger_rows():
    account = AccountFactory(currency="USD")
    row = account_credit(account=account, amount=Decimal("2.00"), kind=KIND, description="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Transaction.objects.filter(pk=row.pk).update(amount=Decimal("200.00"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Transaction.objects.filter(pk=row.pk).delete()
    assert Transaction.objects.get(pk=row.pk).amount == Decimal("2.00")
