"""The card summary table, and the card indexes the list and generation need (see models)."""

import django.db.models.deletion
from django.db import migrations, models


def rename_digest_unique(apps, schema_editor):
    """Drop the pattern index `unique=True` made on PostgreSQL; keep the unique one, renamed.

    SQLite keeps its inline UNIQUE (it has no pattern index); a later table rebuild there uses
    the named constraint of the model state.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    like = schema_editor._create_index_name("topup_card", ["pin_digest"], suffix="_like")
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(like)}")
    schema_editor.execute(
        "ALTER TABLE topup_card RENAME CONSTRAINT topup_card_pin_digest_key"
        " TO card_pin_digest_unique"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_ledger_append_only"),
        ("resellers", "0001_initial"),
        ("topup", "0004_auditevent_moved"),
    ]

    operations = [
        migrations.CreateModel(
            name="CardSummary",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("currency", models.CharField(max_length=3)),
                ("status", models.CharField(max_length=10)),
                ("amount", models.DecimalField(decimal_places=2, max_digits=14)),
                ("expires_at", models.DateTimeField(null=True)),
                ("created_month", models.DateField()),
                ("activated_month", models.DateField(null=True)),
                ("cards", models.BigIntegerField()),
            ],
        ),
        migrations.RemoveIndex(
            model_name="card",
            name="card_series_status",
        ),
        migrations.RemoveIndex(
            model_name="card",
            name="card_created",
        ),
        migrations.AddIndex(
            model_name="card",
            index=models.Index(fields=["series", "-created_at", "-id"], name="card_series_created"),
        ),
        migrations.AddIndex(
            model_name="card",
            index=models.Index(
                fields=["-created_at", "-id"], include=("reseller",), name="card_created"
            ),
        ),
        # The digest stays unique; only its unused pattern index goes. On PostgreSQL the
        # existing unique index is renamed in place (no rebuild of a large table's index).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="card",
                    name="pin_digest",
                    field=models.CharField(editable=False, max_length=64),
                ),
                migrations.AddConstraint(
                    model_name="card",
                    constraint=models.UniqueConstraint(
                        fields=("pin_digest",), name="card_pin_digest_unique"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(rename_digest_unique, migrations.RunPython.noop)
            ],
        ),
        migrations.AddField(
            model_name="cardsummary",
            name="reseller",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="resellers.reseller",
            ),
        ),
        migrations.AddField(
            model_name="cardsummary",
            name="series",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="topup.series",
            ),
        ),
    ]
