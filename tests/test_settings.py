"""Production settings refuse to run without their secrets; build steps need none."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {"SECRET_KEY", "PIN_HMAC_KEY", "PIN_ENCRYPTION_KEYS", "DEBUG", "DJANGO_SETTINGS_MODULE"}


def manage(*args, **env_changes):
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_without_secrets_the_app_refuses_to_start():
    result = manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_makemigrations_needs_no_secrets_and_finds_nothing_to_do():
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_without_a_database_url_the_app_says_how_to_get_one():
    result = manage("check", DEBUG="1", DATABASE_URL="")
    assert result.returncode != 0
    assert "DATABASE_URL is not set. `make demo` runs the demo" in result.stderr


def test_a_database_url_that_is_not_postgresql_is_refused():
    result = manage("check", DEBUG="1", DATABASE_URL="sqlite:////tmp/topup.sqlite3")
    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr
