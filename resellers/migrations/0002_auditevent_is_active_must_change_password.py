"""Companies can be deactivated; temporary passwords; the audit log moves here from topup.

The audit model moves in the migration state only: its table (`topup_auditevent`) and rows
stay where they are (`topup.0004_auditevent_moved` removes it from topup's state and moves its
content type, so the rights on it follow).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("resellers", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="reseller",
            name="is_active",
            field=models.BooleanField(
                default=True,
                help_text="An inactive company gets no new series or customers; its cards and customers keep working.",
                verbose_name="active",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="must_change_password",
            field=models.BooleanField(
                default=False,
                help_text="Set with a temporary password: the user chooses a new one at next sign-in.",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("action", models.CharField(db_index=True, max_length=40)),
                        ("details", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "topup_auditevent",
                        "ordering": ["-created_at", "-pk"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
