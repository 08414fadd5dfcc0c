"""`check --deploy` and the settings a transaction-mode pooler needs."""

import os
import subprocess
import sys

from django.conf import settings

from config.checks import pooler_settings


def test_prepared_statements_behind_a_transaction_pooler_do_not_warn(settings):
    # execute_prepared handles a server session that lacks the statement (its own tests).
    settings.DATABASE_POOLER = "transaction"
    settings.PREPARED_STATEMENTS = True
    settings.DATABASES = {
        alias: {**database, "DISABLE_SERVER_SIDE_CURSORS": True}
        for alias, database in settings.DATABASES.items()
    }
    assert pooler_settings(None) == []


def test_server_side_cursors_behind_a_transaction_pooler_warn(settings):
    settings.DATABASE_POOLER = "transaction"
    settings.DATABASES = {"default": {**settings.DATABASES["default"]}}
    settings.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = False
    assert {found.id for found in pooler_settings(None)} == {"topup.W102"}


def test_no_pooler_no_warning(settings):
    settings.DATABASE_POOLER = ""
    settings.PREPARED_STATEMENTS = True
    assert pooler_settings(None) == []


def test_a_transaction_pooler_turns_server_side_cursors_off():
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "print(all(d['DISABLE_SERVER_SIDE_CURSORS'] for d in settings.DATABASES.values()))"
    )
    env = {
        **os.environ,
        "DATABASE_POOLER": "transaction",
        "DATABASE_REPLICA_URL": "postgres://u@127.0.0.1:1/replica",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"
    assert not settings.DATABASES["default"].get("DISABLE_SERVER_SIDE_CURSORS")
