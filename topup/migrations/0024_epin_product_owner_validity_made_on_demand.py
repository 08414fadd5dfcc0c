"""E-PIN products get an owner (the company whose subtree sells them), a validity, and may
make a card when the stock is empty; operators see, add and change them on their own page.

Existing products go to the root company (the operator's own), as before: sold everywhere.
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

RIGHTS = ["view_epinproduct", "add_epinproduct", "change_epinproduct"]


def own_by_the_root(apps, schema_editor):
    Reseller = apps.get_model("resellers", "Reseller")
    EpinProduct = apps.get_model("topup", "EpinProduct")
    if not EpinProduct.objects.exists():
        return
    root = Reseller.objects.filter(parent__isnull=True).order_by("pk").first()
    EpinProduct.objects.update(reseller=root)


def grant_rights(apps, schema_editor):
    app_config = apps.get_app_config("topup")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Operators")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="topup", codename__in=RIGHTS)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("resellers", "0009_audit_epin_actions"),
        ("topup", "0023_card_number_statistics"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="epinproduct",
            options={
                "default_permissions": ("view", "add", "change"),
                "ordering": ["code"],
                "verbose_name": "e-PIN product",
            },
        ),
        migrations.AddField(
            model_name="epinproduct",
            name="reseller",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="epin_products",
                to="resellers.reseller",
            ),
        ),
        migrations.RunPython(own_by_the_root, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="epinproduct",
            name="reseller",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="epin_products",
                to="resellers.reseller",
            ),
        ),
        migrations.AddField(
            model_name="epinproduct",
            name="validity_days",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="epinproduct",
            name="make_on_demand",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="epinproduct",
            name="series_code",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="epinproduct",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="epinproduct",
            name="series",
            field=models.ManyToManyField(
                blank=True, related_name="epin_products", to="topup.series"
            ),
        ),
        migrations.AddConstraint(
            model_name="epinproduct",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("validity_days__isnull", True),
                    models.Q(("validity_days__gte", 1), ("validity_days__lte", 3650)),
                    _connector="OR",
                ),
                name="epin_product_validity_bounded",
            ),
        ),
        migrations.AddConstraint(
            model_name="epinproduct",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("make_on_demand", False),
                    models.Q(("series_code", ""), _negated=True),
                    _connector="OR",
                ),
                name="epin_product_made_with_a_series_code",
            ),
        ),
        migrations.RunPython(grant_rights, migrations.RunPython.noop),
    ]
