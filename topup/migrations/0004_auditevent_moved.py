"""The audit model now lives in resellers (see resellers.0002); its table and rows stay.

Its content type moves with it, so the rights granted on it (view_auditevent) follow. On a
fresh database both content types may exist by now (0002_groups creates permissions for
every model of the state it runs in): then the holders of the old rights get the new ones and
the old content type goes.
"""

from django.db import migrations


def move_content_type(apps, schema_editor, source="topup", target="resellers"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("resellers", "User")
    old = ContentType.objects.filter(app_label=source, model="auditevent").first()
    if old is None:
        return
    new = ContentType.objects.filter(app_label=target, model="auditevent").first()
    if new is None:
        old.app_label = target
        old.save(update_fields=["app_label"])
        return
    for permission in Permission.objects.filter(content_type=old):
        replacement = Permission.objects.filter(
            content_type=new, codename=permission.codename
        ).first()
        if replacement is None:
            permission.content_type = new
            permission.save(update_fields=["content_type"])
            continue
        for group in Group.objects.filter(permissions=permission):
            group.permissions.add(replacement)
        for user in User.objects.filter(user_permissions=permission):
            user.user_permissions.add(replacement)
    old.delete()


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="resellers", target="topup")


class Migration(migrations.Migration):
    dependencies = [
        ("topup", "0003_attempt_failure_indexes"),
        ("resellers", "0002_auditevent_is_active_must_change_password"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
