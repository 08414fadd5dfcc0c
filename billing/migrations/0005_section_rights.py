"""Rights of the Resellers and Customers sections, granted to the role groups.

Operators get every one; reseller users manage companies, staff and customers of their own
subtree but do not post manual balance adjustments. Operators may change the groups later.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SECTION_RIGHTS = [
    "resellers.view_reseller",
    "resellers.add_reseller",
    "resellers.change_reseller",
    "resellers.view_user",
    "resellers.add_user",
    "resellers.change_user",
    "billing.view_account",
    "billing.add_account",
    "billing.change_account",
]
RIGHTS = {
    "Operators": [*SECTION_RIGHTS, "billing.adjust_balance"],
    "Reseller users": SECTION_RIGHTS,
}


def grant_rights(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, rights in RIGHTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in rights:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke_rights(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, rights in RIGHTS.items():
        for group in Group.objects.filter(name=name):
            for dotted in rights:
                app_label, codename = dotted.split(".")
                group.permissions.remove(
                    *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
                )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_account_number"),
        ("resellers", "0002_auditevent_is_active_must_change_password"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="account",
            options={
                "ordering": ["name"],
                "permissions": [("adjust_balance", "Can post a manual balance adjustment")],
            },
        ),
        migrations.RunPython(grant_rights, revoke_rights),
    ]
