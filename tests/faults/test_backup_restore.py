"""The restore drill (issue 24, docs/operations.md): a `pg_dump` of a database taken while
redemptions run, restored with `pg_restore` into a new database, passes `integrity_check`."""

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from decimal import Decimal

import psycopg2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from billing.models import Account, Transaction
from config import embedded
from tests.databases import database_url
from tests.factories import SeriesFactory, generate, make_card
from topup import services
from topup.models import Card

pytestmark = pytest.mark.django_db(transaction=True)
CARDS = 40


def _admin(params, sql: str) -> None:
    conn = psycopg2.connect(**{**params, "dbname": "postgres"})
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql)
    conn.close()


@pytest.fixture
def restored_name():
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    name = f"{params['dbname']}_restored"
    _admin(params, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield name
    _admin(params, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tool(name: str) -> str | None:
    """The machine's or the embedded wheel's `name` (pg_dump, pg_restore): the one of the
    server's major version if there is one, else a newer one (which reads older servers)."""
    server = connection.cursor().connection.server_version // 10000
    candidates = [shutil.which(name)]
    with contextlib.suppress(embedded.EmbeddedError):
        candidates.append(str(embedded.binaries() / name))
    found = {}
    for path in filter(None, candidates):
        version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
        found.setdefault(int(version.split()[-1].split(".")[0]), path)
    usable = sorted(major for major in found if major >= server)
    if not usable:
        return None
    return found[server] if server in found else found[usable[-1]]


def _dsn(name: str) -> str:
    params = connection.get_connection_params()
    parts = {k: params.get(k) for k in ("user", "password", "host", "port")} | {"dbname": name}
    return " ".join(f"{key}='{value}'" for key, value in parts.items() if value)


def _pg(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True)


def _integrity_check_on(name: str) -> subprocess.CompletedProcess:
    """`manage.py integrity_check` as an operator runs it, on the named database."""
    test_name = connection.settings_dict["NAME"]
    url = database_url().replace(f"/{test_name}", f"/{name}", 1)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    return subprocess.run(
        [sys.executable, "manage.py", "integrity_check"], env=env, capture_output=True, text=True
    )


def test_integrity_check_finds_nothing_on_good_data_and_names_each_difference(tree, customer):
    series = SeriesFactory(code="601", reseller=tree["north"], amount=Decimal("10.00"))
    card, pin = make_card(series=series)
    services.card_redeem(account=customer, typed_pin=pin, client_address="10.0.0.1")
    call_command("integrity_check", stdout=open(os.devnull, "w"))  # noqa: SIM115
    Account.objects.filter(pk=customer.pk).update(balance=Decimal("999.00"))
    other, _ = make_card(series=series)
    card.refresh_from_db()  # a credit the ledger does not know of
    Card.objects.filter(pk=other.pk).update(
        status="activated", activated_at=card.activated_at, activated_by=customer
    )
    found = {(d.check, d.detail) for d in services.integrity_differences()}
    assert found == {
        ("balance", f"account {customer.number}: balance 999.00, ledger sums to 15.00"),
        ("card ledger", f"card {other.number} is activated but has 0 ledger rows"),
    }
    with pytest.raises(CommandError, match="2 difference"):
        call_command("integrity_check", stdout=open(os.devnull, "w"))  # noqa: SIM115


def test_a_dump_taken_under_load_restores_and_passes_the_integrity_check(
    tree, customer, restored_name, tmp_path
):
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    if not (pg_dump and pg_restore):
        pytest.skip("no pg_dump and pg_restore of the server's version or newer")
    generate(tree["operator"], tree["north"], quantity=200, code="602")
    series = SeriesFactory(code="603", reseller=tree["north"], amount=Decimal("5.00"))
    pins = [make_card(series=series, number=f"603-{n:08d}")[1] for n in range(1, CARDS + 1)]
    for pin in pins[:10]:
        services.card_redeem(account=customer, typed_pin=pin, client_address="10.0.0.1")
    connection.close()
    stop = threading.Event()
    done = []

    def redeem(share: list[str]) -> None:
        try:
            for pin in share:
                if stop.is_set():
                    break
                result = services.card_redeem(
                    account=customer, typed_pin=pin, client_address="10.0.0.2"
                )
                done.append(result.outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(pins[10 + i :: 3],)) for i in range(3)]
    for thread in threads:
        thread.start()
    dump = tmp_path / "topup.dump"
    _pg(
        pg_dump,
        "--format=custom",
        f"--file={dump}",
        f"--dbname={_dsn(connection.settings_dict['NAME'])}",
    )
    stop.set()
    for thread in threads:
        thread.join(60)
    assert done and set(done) == {"success"}
    _admin(
        {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"},
        f'CREATE DATABASE "{restored_name}"',
    )
    _pg(pg_restore, "--no-owner", f"--dbname={_dsn(restored_name)}", str(dump))
    checked = _integrity_check_on(restored_name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 differences" in checked.stdout
    # The copy holds the data: the credits up to the dump, each with its ledger row.
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    copy = psycopg2.connect(**{**params, "dbname": restored_name})
    with copy.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM topup_card WHERE status = 'activated'")
        activated = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM billing_transaction WHERE kind = %s",
            [Transaction.Kind.TOPUP_CARD],
        )
        credits = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM topup_card")
        cards = cursor.fetchone()[0]
        # A difference on the copy is found: the check can fail.
        cursor.execute(
            "UPDATE billing_account SET balance = balance + 1 WHERE id = %s", [customer.pk]
        )
    copy.commit()
    copy.close()
    assert cards == 200 + CARDS and 10 <= activated == credits <= CARDS
    broken = _integrity_check_on(restored_name)
    assert broken.returncode == 1 and "DIFFERENCE [balance]" in broken.stdout
