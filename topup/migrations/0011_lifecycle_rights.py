"""Separate rights for the card's journey, granted to the groups of 0002 (operators may change).

Operators get every right. Reseller users keep blocking and unblocking their own cards (mass
edit gave them that before); releasing, voiding and support redemption are the operator's.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RIGHTS = {
    "Operators": [
        "topup.release_cards",
        "topup.block_cards",
        "topup.void_cards",
        "topup.redeem_for_customer",
    ],
    "Reseller users": ["topup.block_cards"],
}


def grant_rights(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in RIGHTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke_rights(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for name, codenames in RIGHTS.items():
        for group in Group.objects.filter(name=name):
            group.permissions.remove(
                *Permission.objects.filter(
                    content_type__app_label="topup",
                    codename__in=[dotted.split(".")[1] for dotted in codenames],
                )
            )


class Migration(migrations.Migration):
    dependencies = [("topup", "0010_card_lifecycle")]

    operations = [migrations.RunPython(grant_rights, revoke_rights)]
