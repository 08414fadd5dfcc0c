"""Signing secrets are stored encrypted (webhooks/secret_box.py): every existing row's secret
is encrypted under the current WEBHOOKS_SECRET_KEYS, then the clear column is dropped."""

from django.db import migrations, models

from webhooks.secret_box import secret_box


def encrypt_secrets(apps, schema_editor):
    Subscription = apps.get_model("webhooks", "Subscription")
    for sub in Subscription.objects.only("pk", "secret").iterator():
        Subscription.objects.filter(pk=sub.pk).update(
            secret_encrypted=secret_box.encrypt(sub.secret)
        )


def decrypt_secrets(apps, schema_editor):
    Subscription = apps.get_model("webhooks", "Subscription")
    for sub in Subscription.objects.only("pk", "secret_encrypted").iterator():
        Subscription.objects.filter(pk=sub.pk).update(
            secret=secret_box.decrypt(sub.secret_encrypted)
        )


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_operator_rights")]

    operations = [
        migrations.AddField(
            model_name="subscription",
            name="secret_encrypted",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="subscription",
            name="secret",
            field=models.CharField(default="", editable=False, max_length=100),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        migrations.RemoveField(model_name="subscription", name="secret"),
    ]
