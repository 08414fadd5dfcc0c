"""Reads that depend on who asks: a staff user (the key pages) or an API key (the API).

What every API call reads first (the key by its public id and the account by its number) is
one plain query, written from the models' own field lists: compiling the equivalent querysets
cost more than running them (about 0.8 ms each, measured with bench/api.py).
"""

from functools import cache

from django.db import connection
from django.db.models import Model

from billing.models import Account
from billing.numbers import is_valid_account_number
from config.postgresql.prepared import execute_prepared
from resellers.models import Reseller

from .models import ApiKey


@cache
def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(
        f'{alias}."{field.column}" AS {alias}_{field.column}'
        for field in model._meta.concrete_fields
    )


@cache
def _loader(model: type[Model]) -> tuple[list[str], list[tuple]]:
    """The concrete fields' attribute names, and (position, column, converters) of those
    fields that have converters: what a queryset applies to each value."""
    fields = model._meta.concrete_fields
    converting = []
    for position, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            converting.append((position, column, converters))
    return [field.attname for field in fields], converting


def _instance(model: type[Model], values) -> Model:
    """A model instance from its concrete fields' values as the database returned them,
    through the same converters a queryset applies (JSON, ...)."""
    attnames, converting = _loader(model)
    if converting:
        values = list(values)
        for position, column, converters in converting:
            for convert in converters:
                values[position] = convert(values[position], column, connection)
    return model.from_db(connection.alias, attnames, values)


def _with_reseller(model: type[Model], row) -> Model | None:
    """The instance of `model` a row holds (its columns, then its reseller's), with its
    reseller attached; None for no row."""
    if row is None:
        return None
    width = len(model._meta.concrete_fields)
    instance = _instance(model, row[:width])
    instance.reseller = _instance(Reseller, row[width:])
    return instance


# The key's subtree, from the reseller paths as they are now: account `a` (reseller `r`) under
# the key's reseller `kr`. One rule for every read of an account through a key.
_IN_KEY_SUBTREE = "a.number = %s AND substr(r.path, 1, length(kr.path)) = kr.path"


def api_key_and_account(public_id: str, number: str) -> tuple[ApiKey | None, Account | None]:
    """The key with this public id (active or revoked); and, read in the same query, the
    account with this number (with its reseller) if the key may act on it, else None (an
    unknown number, a malformed one or one outside the key's subtree alike; the subtree is
    read from the reseller paths as they are now). One round trip for what every API call
    reads first."""
    if not is_valid_account_number(number):
        number = None  # matches no account
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            f"SELECT {_columns(ApiKey, 'k')}, {_columns(Account, 'a')}, {_columns(Reseller, 'r')}"
            f" FROM {ApiKey._meta.db_table} k"
            f" JOIN {Reseller._meta.db_table} kr ON kr.id = k.reseller_id"
            f" LEFT JOIN ({Account._meta.db_table} a"
            f" JOIN {Reseller._meta.db_table} r ON r.id = a.reseller_id)"
            f" ON {_IN_KEY_SUBTREE}"
            " WHERE k.public_id = %s",
            [number, public_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None, None
    width = len(ApiKey._meta.concrete_fields)
    key = _instance(ApiKey, row[:width])
    account = _with_reseller(Account, row[width:]) if row[width] is not None else None
    return key, account
