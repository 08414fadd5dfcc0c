"""The address lockout counts an IPv6 client per /64: each attempt records its lockout key."""

import ipaddress

from django.db import migrations, models


def fill_networks(apps, schema_editor):
    RedemptionAttempt = apps.get_model("topup", "RedemptionAttempt")
    if schema_editor.connection.vendor == "postgresql":
        # One statement however many attempts there are (the column is inet there).
        table = schema_editor.quote_name(RedemptionAttempt._meta.db_table)
        schema_editor.execute(
            f"UPDATE {table} SET client_network = CASE"
            # An IPv4-mapped IPv6 address counts as the IPv4 address (as parse_address does).
            " WHEN client_address << '::ffff:0.0.0.0/96'"
            " THEN host('0.0.0.0'::inet + (client_address - '::ffff:0.0.0.0'::inet))"
            " WHEN family(client_address) = 6"
            " THEN text(network(set_masklen(client_address, 64)))"
            " ELSE host(client_address) END"
        )
        return
    for address in (
        RedemptionAttempt.objects.values_list("client_address", flat=True).distinct().iterator()
    ):
        parsed = ipaddress.ip_address(address)
        parsed = getattr(parsed, "ipv4_mapped", None) or parsed
        key = (
            str(ipaddress.ip_network(f"{parsed}/64", strict=False))
            if parsed.version == 6
            else str(parsed)
        )
        RedemptionAttempt.objects.filter(client_address=address).update(client_network=key)


class Migration(migrations.Migration):
    dependencies = [("topup", "0007_bulk_jobs_and_heartbeats")]

    operations = [
        migrations.AddField(
            model_name="redemptionattempt",
            name="client_network",
            field=models.CharField(default="", max_length=49),
        ),
        migrations.RunPython(fill_networks, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="redemptionattempt", name="attempt_address_failures"),
        migrations.AddIndex(
            model_name="redemptionattempt",
            index=models.Index(
                condition=models.Q(("lifted", False), ("outcome", "failed")),
                fields=["client_network", "created_at"],
                name="attempt_network_failures",
            ),
        ),
    ]
