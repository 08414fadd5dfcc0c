from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from .models import Account, Transaction, as_money


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

    Guarantees: the balance moves by one conditional in-database update (the row stays locked
    until commit, so concurrent postings serialise) and exactly one ledger row records it, in
    one transaction. A debit larger than the balance raises InsufficientFunds and changes nothing
    (the enclosing transaction stays usable); a reference already used raises IntegrityError.
    No savepoints: a posting is two statements and an insert on the hot path of redemption.
    """
    amount = _money(amount)
    if amount == 0:
        raise ValidationError("An amount of zero changes nothing.")
    quote = connection.ops.quote_name
    # One statement moves the balance and returns it (the ORM's update cannot return rows);
    # a debit only applies while the balance covers it.
    sql = (
        f"UPDATE {quote(Account._meta.db_table)} SET {quote('balance')} = {quote('balance')} + %s"
        f" WHERE {quote('id')} = %s"
    )
    params = [amount, account.pk]
    if amount < 0:
        sql += f" AND {quote('balance')} >= %s"
        params.append(-amount)
    posting = None
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(sql + f" RETURNING {quote('balance')}", params)
            row = cursor.fetchone()
        if row is not None:
            account.balance = as_money(row[0])
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
