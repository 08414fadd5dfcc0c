"""Operators manage print shops: the rights for the new model join their group."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RIGHTS = {"Operators": ["add_printshop", "view_printshop", "delete_printshop"]}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; these are needed now.
    app_config = apps.get_app_config("topup")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in RIGHTS.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label="topup", codename__in=codenames)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in RIGHTS.items():
        for group in Group.objects.filter(name=name):
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="topup", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [("topup", "0012_print_shops_and_sheets")]

    operations = [migrations.RunPython(grant, revoke)]
