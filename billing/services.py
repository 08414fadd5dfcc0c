from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from .models import Account, Transaction


class InsufficientFunds(ValidationError):
    pass


def _money(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    if amount.as_tuple().exponent < -2:
        raise ValidationError("Amounts have at most 2 decimals.")
    return amount


def account_post(
    *,
    account: Account,
    amount: Decimal,
    kind: str,
    description: str,
    reference: str = "",
    user=None,
) -> Transaction:
    """Change an account's balance by `amount` (signed) and write its ledger row.

    Guarantees: the balance moves by one conditional `F()` update (the row stays locked until
    commit, so concurrent postings serialise) and exactly one ledger row records it, in one
    transaction. A debit larger than the balance raises InsufficientFunds and changes nothing
    (the enclosing transaction stays usable); a reference already used raises IntegrityError.
    No savepoints: a posting is two statements and an insert on the hot path of redemption.
    """
    amount = _money(amount)
    if amount == 0:
        raise ValidationError("An amount of zero changes nothing.")
    accounts = Account.objects.filter(pk=account.pk)
    if amount < 0:
        accounts = accounts.filter(balance__gte=-amount)
    posting = None
    with transaction.atomic(savepoint=False):
        if accounts.update(balance=F("balance") + amount):
            account.balance = Account.objects.values_list("balance", flat=True).get(pk=account.pk)
            posting = Transaction.objects.create(
                account=account,
                amount=amount,
                balance_after=account.balance,
                kind=kind,
                description=description,
                reference=reference,
                created_by=user,
            )
    if posting is None:
        raise InsufficientFunds("The balance cannot go below zero.")
    return posting


def account_credit(*, account: Account, amount: Decimal, **kwargs) -> Transaction:
    """Add a positive amount; see `account_post`."""
    if _money(amount) <= 0:
        raise ValidationError("A credit is a positive amount.")
    return account_post(account=account, amount=amount, **kwargs)


def account_debit(*, account: Account, amount: Decimal, **kwargs) -> Transaction:
    """Take a positive amount; see `account_post`."""
    if _money(amount) <= 0:
        raise ValidationError("A debit is a positive amount.")
    return account_post(account=account, amount=-amount, **kwargs)
