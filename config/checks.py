"""`manage.py check --deploy`: settings that are known to break behind a pooler or replica."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.database, deploy=True)
def pooler_settings(app_configs, **kwargs):
    """A transaction-mode pooler hands each transaction to any server session."""
    # Prepared statements are safe there (config/postgresql/prepared.py: EXECUTE first,
    # PREPARE on a miss); what a transaction-mode pooler breaks is what outlives a transaction.
    found = []
    for alias, database in settings.DATABASES.items():
        if settings.DATABASE_POOLER == "transaction" and not database.get(
            "DISABLE_SERVER_SIDE_CURSORS"
        ):
            found.append(
                Warning(
                    f"Database {alias!r} uses server-side cursors behind a transaction-mode "
                    "pooler: a named cursor outside a transaction is lost.",
                    hint="Set DISABLE_SERVER_SIDE_CURSORS for it.",
                    id="topup.W102",
                )
            )
    if settings.DATABASE_POOLER == "transaction" and settings.DATABASES["default"].get(
        "OPTIONS", {}
    ).get("options"):
        found.append(
            Warning(
                "The database OPTIONS send startup parameters ('options'): PgBouncer refuses "
                "them unless listed in ignore_startup_parameters, and ignored they do nothing.",
                hint="Set per-connection limits in the pooler (connect_query) or on the role.",
                id="topup.W103",
            )
        )
    return found
