from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
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


@transaction.atomic
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

    Guarantees: the balance moves by an `F()` update (the row stays locked until commit, so
    concurrent postings serialise) and exactly one ledger row records it, in one transaction.
    A balance that would go negative, or a reference already used, raises and changes nothing.
    """
    amount = _money(amount)
    if amount == 0:
        raise ValidationError("An amount of zero changes nothing.")
    try:
        with transaction.atomic():
            Account.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
    except IntegrityError as exc:
        raise InsufficientFunds("The balance cannot go below zero.") from exc
    account.balance = Account.objects.values_list("balance", flat=True).get(pk=account.pk)
    return Transaction.objects.create(
        account=account,
        amount=amount,
        balance_after=account.balance,
        kind=kind,
        description=description,
        reference=reference,
        created_by=user,
    )


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
