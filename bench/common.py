"""Shared set-up for the benchmarks: a PostgreSQL database of their own, migrated, empty.

Run through `make bench` (or `bin/with-postgres .venv/bin/python bench/<name>.py`), which
provides DATABASE_URL; the benchmarks use a database named `topup_bench` on that server
(`BENCH_DATABASE` names another, so parallel runs on one server do not collide).
"""

import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(db_name: str = "", migrate: bool = True) -> None:
    db_name = db_name or os.environ.get("BENCH_DATABASE", "topup_bench")
    url = os.environ.get("DATABASE_URL", "")
    if migrate is False and os.environ.get("DATABASE_URL", "").endswith(f"/{db_name}"):
        import django

        django.setup()
        return
    if not url.startswith("postgres"):
        sys.exit("The benchmarks need DATABASE_URL pointing at PostgreSQL (use `make bench`).")
    parts = urlsplit(url)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{db_name}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    os.environ["TOPUP_BACKGROUND_THRESHOLD"] = "2000000"
    import psycopg2

    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{db_name}"')
    admin.close()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reset_cards() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE topup_card, topup_cardsummary, topup_series, topup_redemptionattempt,"
            " topup_auditevent, billing_transaction RESTART IDENTITY CASCADE"
        )
        cursor.execute("VACUUM ANALYZE topup_card")


def fixtures():
    """An operator at the root, two resellers, and their currencies."""
    from django.contrib.auth.models import Group

    from resellers.models import Reseller, User

    root, _ = Reseller.objects.get_or_create(name="Bench root", defaults={"currency": "USD"})
    north, _ = Reseller.objects.get_or_create(
        name="Bench north", defaults={"currency": "USD", "parent": root}
    )
    south, _ = Reseller.objects.get_or_create(
        name="Bench south", defaults={"currency": "USD", "parent": root}
    )
    operator, _ = User.objects.get_or_create(username="bench-operator", defaults={"reseller": root})
    operator.groups.add(Group.objects.get(name="Operators"))
    return {"root": root, "north": north, "south": south, "operator": operator}


@contextmanager
def timer(results: dict, key: str):
    start = time.perf_counter()
    yield
    results[key] = time.perf_counter() - start


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise LookupError(field)


def rss_mb() -> float:
    return _status_mb("VmRSS")


def reset_peak_rss() -> None:
    """Start the high-water mark afresh (Linux), so the peak is the measured work's own."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def peak_rss_mb() -> float:
    try:
        return _status_mb("VmHWM")
    except (OSError, LookupError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
