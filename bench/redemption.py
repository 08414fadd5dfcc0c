"""Redemption throughput: the service against a minimal exactly-once redemption in raw SQL.

    bin/with-postgres .venv/bin/python bench/redemption.py [--cards 4000]
    bin/with-postgres .venv/bin/python bench/redemption.py --compare-triggers [--workers 4]
    bin/with-postgres .venv/bin/python bench/redemption.py --compare-consignment [--workers 4]

Each worker is a process with its own connection and its own customer account, redeeming
its share of fresh cards. The service keeps every guarantee (locks, the lockout counted
before the PIN is evaluated, attempt and audit rows); the raw workers do only what makes a
redemption exactly-once: the conditional activation UPDATE ... RETURNING, the balance update
and the ledger row, in one transaction, through psycopg2 without Django.
"""

import argparse
import multiprocessing
import os
import statistics
import time
from decimal import Decimal

from common import fixtures, report, reset_cards, setup_django

LIMITS = {
    "REDEEM_ACCOUNT_FAILURES_SHORT": "1000000",
    "REDEEM_ACCOUNT_FAILURES_LONG": "1000000",
    "REDEEM_ADDRESS_FAILURES": "1000000",
}


def prepare(cards: int, workers: int) -> tuple[list[int], list[list[str]]]:
    from billing.models import Account
    from topup import services
    from topup.models import Card
    from topup.pins import pin_service

    fx = fixtures()
    reset_cards()
    Account.objects.filter(name__startswith="Bench worker").delete()
    series = services.series_generate(
        user=fx["operator"],
        request=services.SeriesRequest(
            reseller=fx["north"],
            amount=Decimal("1.00"),
            quantity=cards,
            code="R",
            pin_length=14,
            in_stock=False,
        ),
        background=False,
    )
    pins = [
        pin_service.decrypt(token, version, number)
        for number, token, version in Card.objects.filter(series=series).values_list(
            "number", "pin_encrypted", "pin_key_version"
        )
    ]
    accounts = [
        Account.objects.create(name=f"Bench worker {i}", reseller=fx["north"], currency="USD").pk
        for i in range(workers)
    ]
    return accounts, [pins[i::workers] for i in range(workers)]


def service_worker(account_id: int, pins: list[str], address: str, start) -> None:
    setup_django(migrate=False)
    from billing.models import Account
    from topup import services

    account = Account.objects.select_related("reseller").get(pk=account_id)
    start.wait()
    for pin in pins:
        assert (
            services.card_redeem(account=account, typed_pin=pin, client_address=address).outcome
            == "success"
        )


def raw_worker(account_id: int, pins: list[str], address: str, start) -> None:
    """A minimal correct exactly-once redemption in raw SQL, not a replay of ours.

    One transaction: the conditional activation `UPDATE ... RETURNING` of the card, the
    balance update and the ledger row. No lockout, no attempt or audit row, no Django.
    """
    setup_django(migrate=False)
    import psycopg2
    from django.db import connection

    from topup.pins import pin_service

    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
        port=db["PORT"] or 5432,
    )  # fmt: skip
    cur = conn.cursor()
    cur.execute(
        "SELECT r.path, a.currency FROM billing_account a JOIN resellers_reseller r"
        " ON r.id = a.reseller_id WHERE a.id = %s",
        [account_id],
    )
    path, currency = cur.fetchone()
    owners = [int(p) for p in path.strip("/").split("/")]
    conn.commit()
    start.wait()
    for typed in pins:
        digest = pin_service.digest(pin_service.normalise(typed))
        cur.execute(
            "UPDATE topup_card SET status = 'activated', activated_at = now(),"
            " activated_by_id = %s WHERE pin_digest = %s AND status = 'new'"
            " AND (expires_at IS NULL OR expires_at > now()) AND reseller_id = ANY(%s)"
            " AND currency = %s RETURNING id, number, amount",
            [account_id, digest, owners, currency],
        )
        card_id, number, amount = cur.fetchone()
        cur.execute(
            "UPDATE billing_account SET balance = balance + %s WHERE id = %s RETURNING balance",
            [amount, account_id],
        )
        balance = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO billing_transaction (account_id, amount, balance_after, kind,"
            " description, reference, created_at)"
            " VALUES (%s, %s, %s, 'topup_card', %s, %s, now())",
            [account_id, amount, balance, f"Top-up card {number}", f"topup.card:{card_id}"],
        )
        conn.commit()
    conn.close()


def measure(worker, accounts, shares) -> float:
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("spawn")
    # Every worker starts its interpreter and Django first; the clock starts when all are ready.
    start = ctx.Barrier(len(accounts) + 1)
    processes = [
        ctx.Process(target=worker, args=(account, share, f"10.8.{i}.1", start))
        for i, (account, share) in enumerate(zip(accounts, shares, strict=True))
    ]
    for p in processes:
        p.start()
    start.wait()
    began = time.perf_counter()
    for p in processes:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a worker failed (exit code {p.exitcode})")
    return time.perf_counter() - began


def run(cards: int) -> None:
    from django.db.models import Sum

    from billing.models import Account
    from topup.models import Card

    rows = []
    for workers in (1, 4):
        rates = {}
        for name, worker in (("service", service_worker), ("raw SQL", raw_worker)):
            accounts, shares = prepare(cards, workers)
            took = measure(worker, accounts, shares)
            assert Card.objects.filter(status="activated").count() == cards
            credited = Account.objects.filter(pk__in=accounts).aggregate(s=Sum("balance"))["s"]
            assert credited == Decimal(cards)
            rates[name] = cards / took
        service, raw = rates["service"], rates["raw SQL"]
        rows.append(
            (
                f"{workers} worker(s)",
                f"service {service:6.0f}/s   raw {raw:6.0f}/s   "
                f"ratio {service / raw:.2f} (target >= 0.6)",
            )
        )
    report(f"Redemption of {cards:,} cards, redemptions per second", rows)


def summary_triggers(enabled: bool) -> None:
    from django.db import connection

    verb = "ENABLE" if enabled else "DISABLE"
    with connection.cursor() as cursor:
        for event in ("insert", "update", "delete"):
            cursor.execute(f"ALTER TABLE topup_card {verb} TRIGGER topup_card_summary_{event}")


def compare_triggers(cards: int, workers: int, rounds: int) -> None:
    """The service with and without the card summary's triggers, alternating, same machine.

    What the summary costs each redemption (two delta rows through the UPDATE trigger),
    measured so that the load of other work on the machine falls on both sides alike.
    """
    rates = {True: [], False: []}
    try:
        for _ in range(rounds):
            for enabled in (True, False):
                summary_triggers(True)  # generation itself is always counted
                accounts, shares = prepare(cards, workers)
                summary_triggers(enabled)
                rates[enabled].append(cards / measure(service_worker, accounts, shares))
    finally:
        summary_triggers(True)
        reset_cards()
    with_triggers, without = statistics.median(rates[True]), statistics.median(rates[False])
    report(
        f"Redemption at {workers} workers, summary triggers on and off ({rounds} rounds each)",
        [
            ("with the summary triggers", f"{with_triggers:6.0f}/s   runs {_rates(rates[True])}"),
            ("without them", f"{without:6.0f}/s   runs {_rates(rates[False])}"),
            ("ratio (median with / median without)", f"{with_triggers / without:.2f}"),
        ],
    )


def bill_north(consignment: bool) -> None:
    """The cards' owner billed on consignment (each redemption debits its wallet in the
    crediting statement) or prepaid (the statement finds the wallet and writes nothing)."""
    from wallets.models import Wallet

    north = fixtures()["north"]
    Wallet.objects.update_or_create(
        reseller=north,
        defaults={"billing_mode": "consignment" if consignment else "prepaid", "digits": 2,
                  "currency": north.currency, "discount": Decimal("10")},
    )  # fmt: skip


def compare_consignment(cards: int, workers: int, rounds: int) -> None:
    """The service with the cards' owner on consignment and not, alternating: what billing
    its wallet in the crediting statement costs each redemption."""
    rates = {True: [], False: []}
    for round_ in range(rounds):
        for consignment in (True, False) if round_ % 2 == 0 else (False, True):
            accounts, shares = prepare(cards, workers)
            bill_north(consignment)
            rates[consignment].append(cards / measure(service_worker, accounts, shares))
    reset_cards()
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    report(
        f"Redemption at {workers} workers, owner on consignment or not ({rounds} rounds each)",
        [
            ("consignment (wallet debited, entry written)", f"{on:6.0f}/s   {_rates(rates[True])}"),
            ("not on consignment (nothing written)", f"{off:6.0f}/s   {_rates(rates[False])}"),
            ("ratio (median on / median off)", f"{on / off:.2f}"),
        ],
    )


def _rates(values) -> str:
    return ", ".join(f"{value:.0f}" for value in values)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=4000)
    parser.add_argument(
        "--compare-triggers", action="store_true",
        help="service with and without the card summary triggers, alternating",
    )  # fmt: skip
    parser.add_argument(
        "--compare-consignment", action="store_true",
        help="service with the cards' owner on consignment and not, alternating",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(LIMITS)
    setup_django()
    if args.compare_triggers:
        compare_triggers(args.cards, args.workers, args.rounds)
    elif args.compare_consignment:
        compare_consignment(args.cards, args.workers, args.rounds)
    else:
        run(args.cards)
