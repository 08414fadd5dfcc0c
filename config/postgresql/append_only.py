"""Append-only tables on PostgreSQL: triggers that refuse UPDATE, DELETE and TRUNCATE.

One home for the rule "a ledger row is never edited or deleted, whoever asks". A ledger's
migration adds it with `append_only(table)`; billing's transactions got the same triggers
before this helper existed (billing 0003 and 0006, kept as written: migrations are history).
A database superuser is let through TRUNCATE: it could drop the trigger anyway, and Django's
test flush runs as one. The application's own role must not be a superuser
(docs/operations.md).
"""

from django.db import migrations


def _sql(table: str) -> tuple[str, str]:
    create = f"""
    CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only: % of a {table} row refused', TG_OP;
    END
    $$ LANGUAGE plpgsql;
    CREATE TRIGGER {table}_append_only
        BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
    CREATE FUNCTION {table}_no_truncate() RETURNS trigger AS $$
    BEGIN
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'the ledger is append-only: TRUNCATE of {table} refused';
    END
    $$ LANGUAGE plpgsql;
    CREATE TRIGGER {table}_no_truncate
        BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {table}_no_truncate();
    """
    drop = f"""
    DROP TRIGGER IF EXISTS {table}_append_only ON {table};
    DROP FUNCTION IF EXISTS {table}_append_only();
    DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
    DROP FUNCTION IF EXISTS {table}_no_truncate();
    """
    return create, drop


def append_only(table: str) -> migrations.RunSQL:
    """The migration operation that makes `table` append-only (reversible)."""
    create, drop = _sql(table)
    return migrations.RunSQL(create, drop)
