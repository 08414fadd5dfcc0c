"""The wallet rights, granted to the role groups (operators may change them).

Operators and reseller users both manage the wallets of the companies below their own (the
services refuse one's own and the operator's company): billing, discounts, top-ups and
adjustments; both read wallets and their entries.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RIGHTS = [
    "wallets.view_wallet",
    "wallets.view_walletentry",
    "wallets.manage_wallet",
    "wallets.post_wallet",
]
GROUPS = ["Operators", "Reseller users"]


def grant_rights(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    rights = [
        Permission.objects.get(content_type__app_label="wallets", codename=dotted.split(".")[1])
        for dotted in RIGHTS
    ]
    for name in GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*rights)


def revoke_rights(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    rights = Permission.objects.filter(content_type__app_label="wallets")
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.remove(*rights)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0001_initial"), ("topup", "0011_lifecycle_rights")]

    operations = [migrations.RunPython(grant_rights, revoke_rights)]
