"""On PostgreSQL, the ledger refuses UPDATE and DELETE of its rows, whoever asks."""

from django.db import migrations

CREATE = """
CREATE FUNCTION billing_transaction_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % of a transaction row refused', TG_OP;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_transaction_append_only
    BEFORE UPDATE OR DELETE ON billing_transaction
    FOR EACH ROW EXECUTE FUNCTION billing_transaction_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS billing_transaction_append_only ON billing_transaction;
DROP FUNCTION IF EXISTS billing_transaction_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
