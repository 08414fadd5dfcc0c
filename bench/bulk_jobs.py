"""A million-card mass edit through the background path, against one raw UPDATE of the rows.

    BENCH_DATABASE=topup_bench bin/with-postgres .venv/bin/python bench/bulk_jobs.py \
        [--cards 1000000] [--rounds 2] [--redeemers 2]

The edit sets the expiry of every card with amount <= 20 (the 1,000,000 cards of the card
list benchmark's data set; 10% are activated and skipped). The background path is the
worker's own code (`run_bulk_job` via the task backend: the job, its id-ordered chunks, one
transaction each, cursor and counts, the audit event); it is timed from the job's creation
to its end. The raw figure is one `UPDATE` of the same rows in one transaction.

Then the same edit runs again while customer processes redeem cards, half inside the edited
set (spread over its whole id range) and half outside it (a series of amount 50), at a steady
pace; the latency of each redemption is recorded. For contrast, the same under the
one-transaction path (`background=False`), which holds every row lock to the end.
"""

import argparse
import multiprocessing
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from common import fixtures, report, setup_django

INSIDE_SEARCH = "amount_max=20"
OUTSIDE_CODE = "OUT"
PACE = 0.02  # seconds between one redeemer's redemptions


def prepare(cards: int) -> None:
    from django.utils import timezone

    from topup import services
    from topup.models import Card, Series

    fx = fixtures()
    if Card.objects.filter(amount__lte=20).count() < cards:
        from card_list import populate

        populate(fx, cards)
    if not Series.objects.filter(code=OUTSIDE_CODE).exists():
        services.series_generate(
            user=fx["operator"],
            request=services.SeriesRequest(
                reseller=fx["north"], amount=Decimal("50.00"), quantity=20_000,
                code=OUTSIDE_CODE, pin_length=14,
                expires_at=timezone.now() + timedelta(days=365), in_stock=False,
            ),
            background=False,
        )  # fmt: skip


def sample_pins(where: dict, count: int) -> list[str]:
    """PINs of redeemable cards matching `where`, spread evenly over their id range."""
    from topup.models import Card
    from topup.pins import pin_service

    rows = list(
        Card.objects.redeemable()
        .filter(**where)
        .order_by("pk")
        .values_list("number", "pin_encrypted", "pin_key_version")
    )
    step = max(1, len(rows) // count)
    return [pin_service.decrypt(token, version, number) for number, token, version in rows[::step]]


def redeemer(account_id: int, inside: list[str], outside: list[str], address: str, stop, out):
    setup_django(migrate=False)
    from billing.models import Account
    from topup import services

    account = Account.objects.select_related("reseller").get(pk=account_id)
    latencies = {"inside": [], "outside": []}
    pins = [pin for pair in zip(inside, outside, strict=False) for pin in pair]
    for i, pin in enumerate(pins):
        if stop.is_set():
            break
        began = time.perf_counter()
        result = services.card_redeem(account=account, typed_pin=pin, client_address=address)
        latencies["inside" if i % 2 == 0 else "outside"].append(time.perf_counter() - began)
        assert result.outcome == "success", result
        time.sleep(PACE)
    out.put(latencies)


def edit_under_load(run_edit, redeemers: int) -> tuple[float, dict]:
    """Run `run_edit()` while `redeemers` processes redeem; (edit seconds, latencies)."""
    from django.db import connections

    from billing.models import Account

    fx = fixtures()
    accounts = [
        Account.objects.get_or_create(
            name=f"Bench redeemer {i}", defaults={"reseller": fx["north"], "currency": "USD"}
        )[0]
        for i in range(redeemers)
    ]
    inside = sample_pins({"amount__lte": 20, "reseller__name": "Bench north"}, 2000 * redeemers)
    outside = sample_pins({"series__code": OUTSIDE_CODE}, 2000 * redeemers)
    connections.close_all()
    ctx = multiprocessing.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    processes = [
        ctx.Process(
            target=redeemer,
            args=(a.pk, inside[i::redeemers], outside[i::redeemers], f"10.7.{i}.1", stop, out),
        )
        for i, a in enumerate(accounts)
    ]
    for p in processes:
        p.start()
    time.sleep(3)  # the redeemers start Django and settle into their pace
    began = time.perf_counter()
    run_edit()
    took = time.perf_counter() - began
    time.sleep(1)
    stop.set()
    latencies = {"inside": [], "outside": []}
    for _ in processes:
        for key, values in out.get().items():
            latencies[key] += values
    for p in processes:
        p.join()
    return took, latencies


def p99(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cut = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"p50 {cut[49] * 1000:.0f} ms, p99 {cut[98] * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
    )


def run(cards: int, rounds: int, redeemers: int) -> None:
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from topup import services
    from topup.models import BulkJob, Card
    from topup.selectors import cards_for_selection

    prepare(cards)
    fx = fixtures()
    operator = fx["operator"]
    scope = list(
        Card.objects.filter(amount__lte=20)
        .order_by()
        .values_list("reseller_id", flat=True)
        .distinct()
    )
    selection = {"search": INSIDE_SEARCH}

    def vacuum():
        with connection.cursor() as cursor:
            cursor.execute("VACUUM topup_card")

    def service_edit(days: int, background: bool):
        def go():
            result = services.cards_mass_update(
                user=operator,
                cards=cards_for_selection(operator, selection),
                edit=services.MassEdit(
                    expiry_mode="set", expires_at=timezone.now() + timedelta(days=days)
                ),
                selection=selection,
                background=background,
            )
            if background:
                job = BulkJob.objects.get(pk=result.job.pk)
                assert job.state == BulkJob.State.DONE, (job.state, job.error)
                go.result = (job.changed, job.skipped)
            else:
                go.result = (result.changed, result.skipped)

        return go

    best_job = best_raw = float("inf")
    for i in range(rounds):
        vacuum()
        began = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE topup_card SET expires_at = %s WHERE reseller_id = ANY(%s)"
                " AND amount <= 20 AND NOT status = 'activated'",
                [timezone.now() + timedelta(days=400 + i), scope],
            )
            raw_rows = cursor.rowcount
        best_raw = min(best_raw, time.perf_counter() - began)
        vacuum()
        edit = service_edit(500 + i, background=True)
        began = time.perf_counter()
        edit()
        best_job = min(best_job, time.perf_counter() - began)
        assert edit.result[0] == raw_rows, (edit.result, raw_rows)
    changed, skipped = edit.result
    vacuum()
    chunked_took, chunked = edit_under_load(service_edit(600, background=True), redeemers)
    vacuum()
    single_took, single = edit_under_load(service_edit(700, background=False), redeemers)
    report(
        f"Mass edit of {changed + skipped:,} cards ({changed:,} changed, {skipped:,} activated"
        f" skipped), chunks of {settings.TOPUP_BULK_CHUNK_SIZE:,}, best of {rounds}",
        [
            ("background job (chunks, cursor, audit)", f"{best_job:.2f} s"),
            ("one raw UPDATE of the same rows", f"{best_raw:.2f} s"),
            ("ratio job / UPDATE (target <= 1.5)", f"{best_job / best_raw:.2f}"),
            (f"with {redeemers} redeemers: background job", f"{chunked_took:.2f} s"),
            ("  redemptions inside the edited set", p99(chunked["inside"])),
            ("  redemptions outside it", p99(chunked["outside"])),
            ("same load, one-transaction edit", f"{single_took:.2f} s"),
            ("  redemptions inside the edited set", p99(single["inside"])),
            ("  redemptions outside it", p99(single["outside"])),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--redeemers", type=int, default=2)
    args = parser.parse_args()
    setup_django()
    run(args.cards, args.rounds, args.redeemers)
