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
    until commit, so concurrent postings serialise) and exactly one ledger row records it,
    atomically. A debit larger than the balance raises InsufficientFunds and changes nothing
    (the enclosing transaction stays usable); a reference already used raises IntegrityError.
    No savepoints: on PostgreSQL a posting is one statement (`posting_ctes`), on SQLite two.
    """
    amount = _money(amount)
    if amount == 0:
        raise ValidationError("An amount of zero changes nothing.")
    if connection.vendor == "postgresql":
        row = _post_in_one_statement(
            account_id=account.pk,
            amount=amount,
            kind=kind,
            description=description,
            reference=reference,
            user_id=user.pk if user is not None else None,
        )
        if row is None:
            raise InsufficientFunds("The balance cannot go below zero.")
        pk, balance_after, created_at = row
        account.balance = as_money(balance_after)
        posting = Transaction(
            pk=pk,
            account=account,
            amount=amount,
            balance_after=account.balance,
            kind=kind,
            description=description,
            reference=reference,
            created_by=user,
            created_at=created_at,
        )
        posting._state.adding = False
        posting._state.db = connection.alias
        return posting
    return _post_step_by_step(
        account=account,
        amount=amount,
        kind=kind,
        description=description,
        reference=reference,
        user=user,
    )


def posting_ctes(source: str) -> str:
    """A posting as two common table expressions, for one PostgreSQL statement.

    `source` names a relation with the columns (account_id, amount, kind, description,
    reference, created_by_id). `moved` moves each balance in the database (a debit only while
    the balance covers it; the row stays locked until commit) and `posted` writes the ledger
    row, returning (id, account_id, amount, balance_after, created_at). `account_post` and
    the redemption of a card both post through this SQL, in one round trip.
    """
    account = Account._meta.db_table
    ledger = Transaction._meta.db_table
    return f"""
    moved AS (
        UPDATE {account} AS a SET balance = a.balance + s.amount
        FROM {source} AS s
        WHERE a.id = s.account_id AND (s.amount > 0 OR a.balance >= -s.amount)
        RETURNING a.id AS account_id, a.balance AS balance_after, s.amount, s.kind,
            s.description, s.reference, s.created_by_id
    ),
    posted AS (
        INSERT INTO {ledger} (account_id, amount, balance_after, kind, description,
            reference, created_by_id, created_at)
        SELECT account_id, amount, balance_after, kind, description, reference,
            created_by_id, STATEMENT_TIMESTAMP()
        FROM moved
        RETURNING id, account_id, amount, balance_after, created_at
    )"""


def _post_in_one_statement(*, account_id, amount, kind, description, reference, user_id):
    sql = (
        "WITH source (account_id, amount, kind, description, reference, created_by_id) AS ("
        " VALUES (%s::bigint, %s::numeric, %s::varchar, %s::varchar, %s::varchar, %s::bigint)"
        f"), {posting_ctes('source')}"
        " SELECT id, balance_after, created_at FROM posted"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_id, amount, kind, description, reference, user_id])
        return cursor.fetchone()


def _post_step_by_step(*, account, amount, kind, description, reference, user) -> Transaction:
    """SQLite (the demo): the balance update, then the ledger row."""
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
