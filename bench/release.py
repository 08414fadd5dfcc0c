"""Releasing a million-card serial range through the background path, against one raw UPDATE.

    BENCH_DATABASE=topup_bench bin/with-postgres .venv/bin/python bench/release.py \
        [--cards 1000000] [--rounds 2]

One series of `--cards` cards is generated in stock (once; later runs reuse it). A second
operator releases the whole serial range (`serials_min` .. `serials_max`, the card list's
search) to a reseller, with four eyes on, through `cards_release(background=True)`: the
worker's own code (the job, its id-ordered chunks, one transaction each that locks its rows
and re-checks "in stock" on each, the cursor and counts, the ranges each card's history reads,
the audit event), timed from the job's creation to its end. The raw figure is one `UPDATE`
of the same rows (status, release date and owner, where in stock) in one transaction. Between
rounds the cards go back into stock and the table is vacuumed.
"""

import argparse
import os
import time
from decimal import Decimal

from common import fixtures, report, setup_django

CODE = "REL"


def prepare(cards: int):
    from django.contrib.auth.models import Group

    from resellers.models import User
    from topup import services
    from topup.models import Series

    fx = fixtures()
    series = Series.objects.filter(code=CODE, quantity=cards, state="done").first()
    if series is None:
        series = services.series_generate(
            user=fx["operator"],
            request=services.SeriesRequest(
                reseller=fx["root"], amount=Decimal("5.00"), quantity=cards, code=CODE,
                pin_length=16, in_stock=True,
            ),
            background=False,
        )  # fmt: skip
    releaser, _ = User.objects.get_or_create(
        username="bench-releaser", defaults={"reseller": fx["root"]}
    )
    releaser.groups.add(Group.objects.get(name="Operators"))
    return fx, series, User.objects.get(pk=releaser.pk)


def back_in_stock(series) -> None:
    from django.db import connection

    from topup.models import CardEventRange

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE topup_card SET status = 'in_stock', released_at = NULL, reseller_id = %s"
            " WHERE series_id = %s AND status <> 'in_stock'",
            [series.reseller_id, series.pk],
        )
    CardEventRange.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE topup_card")


def run(cards: int, rounds: int) -> None:
    from django.db import connection, transaction

    from topup import services
    from topup.models import BulkJob
    from topup.selectors import cards_for_selection

    fx, series, releaser = prepare(cards)
    first, last = f"{CODE}-{series.first_number:08d}", f"{CODE}-{series.last_number:08d}"
    selection = {"search": f"serials_min={first}&serials_max={last}"}
    best_job = best_raw = float("inf")
    for _ in range(rounds):
        back_in_stock(series)
        began = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE topup_card SET status = 'new', released_at = now(), reseller_id = %s"
                " WHERE series_id = %s AND status = 'in_stock'"
                " AND (expires_at IS NULL OR expires_at > now())",
                [fx["north"].pk, series.pk],
            )
            raw_rows = cursor.rowcount
        best_raw = min(best_raw, time.perf_counter() - began)
        back_in_stock(series)
        began = time.perf_counter()
        result = services.cards_release(
            user=releaser,
            cards=cards_for_selection(releaser, selection),
            selection=selection,
            reseller=fx["north"],
            background=True,
        )
        took = time.perf_counter() - began
        job = BulkJob.objects.get(pk=result.job.pk)
        assert job.state == BulkJob.State.DONE, (job.state, job.error)
        assert job.changed == raw_rows == cards, (job.changed, raw_rows)
        best_job = min(best_job, took)
    from django.conf import settings

    from topup.models import CardEventRange

    ranges = CardEventRange.objects.filter(job=job).count()
    report(
        f"Release of {cards:,} cards by serial range (to a reseller, four eyes on), "
        f"chunks of {settings.TOPUP_BULK_CHUNK_SIZE:,}, best of {rounds}",
        [
            ("background job (chunks, locks, cursor, history ranges, audit)", f"{best_job:.2f} s"),
            ("one raw UPDATE of the same rows", f"{best_raw:.2f} s"),
            ("ratio job / UPDATE (target <= 1.5)", f"{best_job / best_raw:.2f}"),
            ("history rows written for the million cards", f"{ranges:,}"),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ["TOPUP_FOUR_EYES"] = "true"
    setup_django()
    run(args.cards, args.rounds)
