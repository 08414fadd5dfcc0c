"""The three roles as groups holding Django permissions; operators can change them later."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Operators": [
        "topup.generate_series",
        "topup.mass_edit_cards",
        "topup.delete_card",
        "topup.reveal_pin",
        "topup.lift_lockout",
        "topup.view_card",
        "topup.view_series",
        "topup.view_redemptionattempt",
        "topup.view_auditevent",
        "billing.view_account",
        "billing.view_transaction",
        "resellers.view_reseller",
    ],
    "Reseller users": [
        "topup.mass_edit_cards",
        "topup.view_card",
        "topup.view_series",
        "billing.view_account",
    ],
    "Customers": ["topup.redeem_card"],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; this one needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("topup", "0001_initial"),
        ("billing", "0001_initial"),
        ("resellers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
