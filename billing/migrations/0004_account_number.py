"""Account numbers: a database sequence, every existing account numbered, then the rules."""

from django.db import migrations, models

from billing.numbers import create_sequence, drop_sequence, next_account_numbers


def forwards(apps, schema_editor):
    create_sequence(schema_editor)
    Account = apps.get_model("billing", "Account")
    alias = schema_editor.connection.alias
    ids = list(Account.objects.using(alias).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 5000):
        batch = ids[start : start + 5000]
        numbers = next_account_numbers(len(batch), using=alias)
        accounts = [Account(pk=pk, number=n) for pk, n in zip(batch, numbers, strict=True)]
        Account.objects.using(alias).bulk_update(accounts, ["number"])


def backwards(apps, schema_editor):
    drop_sequence(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_ledger_append_only")]

    operations = [
        migrations.AddField(
            model_name="account",
            name="number",
            field=models.CharField(editable=False, max_length=12, null=True),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AlterField(
            model_name="account",
            name="number",
            field=models.CharField(editable=False, max_length=12),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                fields=("number",), name="account_number_unique", opclasses=["varchar_pattern_ops"]
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("number__regex", "^[1-9][0-9]{8,11}$")),
                name="account_number_digits",
            ),
        ),
    ]
