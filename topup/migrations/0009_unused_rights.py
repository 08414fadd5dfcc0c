"""Rights that nothing checks are removed: adding, changing or deleting ledger rows, logs and
series, adding or changing cards. Cards change through their own rights (mass edit, delete)."""

from django.db import migrations

UNUSED = {
    "billing": ["add_transaction", "change_transaction", "delete_transaction"],
    "resellers": ["add_auditevent", "change_auditevent", "delete_auditevent"],
    "topup": [
        "add_auditevent", "change_auditevent", "delete_auditevent",
        "add_redemptionattempt", "change_redemptionattempt", "delete_redemptionattempt",
        "add_series", "change_series", "delete_series",
        "add_card", "change_card",
    ],
}  # fmt: skip


def remove_unused_rights(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for app_label, codenames in UNUSED.items():
        Permission.objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("topup", "0008_attempt_client_network"),
        ("billing", "0006_ledger_keeps_authors"),
        ("resellers", "0003_audit_view_right_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="card",
            options={
                "default_permissions": ("view", "delete"),
                "ordering": ["-created_at", "-pk"],
                "permissions": [
                    ("mass_edit_cards", "Can mass-edit top-up cards"),
                    ("reveal_pin", "Can reveal and export PINs"),
                    ("redeem_card", "Can redeem a top-up card"),
                ],
            },
        ),
        migrations.AlterModelOptions(
            name="redemptionattempt",
            options={
                "default_permissions": ("view",),
                "ordering": ["-created_at", "-pk"],
                "permissions": [("lift_lockout", "Can lift a redemption lockout")],
            },
        ),
        migrations.AlterModelOptions(
            name="series",
            options={
                "default_permissions": ("view",),
                "ordering": ["-created_at", "-pk"],
                "permissions": [("generate_series", "Can generate series of top-up cards")],
                "verbose_name_plural": "series",
            },
        ),
        migrations.RunPython(remove_unused_rights, migrations.RunPython.noop),
    ]
