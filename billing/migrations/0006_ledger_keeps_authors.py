"""Ledger rows keep their author (PROTECT), and TRUNCATE of the ledger is refused on PostgreSQL.

A database superuser is let through TRUNCATE: it could drop the trigger anyway, and Django's
test flush runs as one. The application's own role must not be a superuser (docs/operations.md).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CREATE = """
CREATE FUNCTION billing_transaction_no_truncate() RETURNS trigger AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: TRUNCATE of the transactions refused';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_transaction_no_truncate
    BEFORE TRUNCATE ON billing_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION billing_transaction_no_truncate();
"""
DROP = """
DROP TRIGGER IF EXISTS billing_transaction_no_truncate ON billing_transaction;
DROP FUNCTION IF EXISTS billing_transaction_no_truncate();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_section_rights"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="transaction",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="transactions",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AlterModelOptions(
            name="transaction",
            options={"default_permissions": ("view",), "ordering": ["-created_at", "-pk"]},
        ),
    ]
