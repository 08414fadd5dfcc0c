"""Generation speed against raw COPY, and peak memory at a million cards.

make bench            (all benchmarks)
bin/with-postgres .venv/bin/python bench/generation.py [--quantity 100000] [--million]
BENCH_DATABASE=topup_10m bin/with-postgres .venv/bin/python bench/generation.py --into-existing
"""

import argparse
import io
import os
import secrets
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from common import (
    ROOT,
    fixtures,
    peak_rss_mb,
    report,
    reset_cards,
    reset_peak_rss,
    rss_mb,
    setup_django,
    timer,
)


def raw_copy_rows(series, quantity: int) -> io.StringIO:
    """Equivalent rows (same columns, sizes and index keys), made before the clock starts.

    In stock, as the service writes them by default: no release date, no valid-from date.
    """
    from django.utils import timezone

    created = timezone.now().isoformat()
    expires = series.expires_at.isoformat() if series.expires_at else ""
    buffer = io.StringIO()
    for n in range(1, quantity + 1):
        token = secrets.token_bytes(40)
        buffer.write(
            f"{series.pk},RAW-{n:08d},{series.reseller_id},{series.amount},{series.currency},"
            f"{secrets.token_hex(32)},\\x{token.hex()},1,in_stock,,,{expires},{created}\n"
        )
    buffer.seek(0)
    return buffer


def raw_copy(series, quantity: int) -> float:
    from django.db import connection, transaction

    from topup.generation import COPY_COLUMNS

    rows = raw_copy_rows(series, quantity)
    results = {}
    with timer(results, "copy"), transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY topup_card ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '')",
            rows,
        )
    return results["copy"]


def service(fx, quantity: int, code: str) -> tuple[float, object]:
    from topup import services

    results = {}
    request = services.SeriesRequest(
        reseller=fx["north"], amount=Decimal("10.00"), quantity=quantity, code=code
    )
    with timer(results, "service"):
        series = services.series_generate(user=fx["operator"], request=request, background=False)
    return results["service"], series


def compare(quantity: int, rounds: int = 3) -> None:
    fx = fixtures()
    best_copy = best_service = float("inf")
    for i in range(rounds):
        reset_cards()
        took, series = service(fx, quantity, code=f"B{i}")
        best_service = min(best_service, took)
        reset_cards()
        holder, _ = service(fx, 1, code=f"H{i}")  # a series row for the raw rows to point at
        from topup.models import Series

        best_copy = min(best_copy, raw_copy(Series.objects.get(code=f"H{i}"), quantity))
    reset_cards()
    report(
        f"Generate {quantity:,} cards (best of {rounds})",
        [
            ("series_generate (PINs, HMAC, AES-GCM, COPY)", f"{best_service:.2f} s"),
            ("raw COPY of equivalent prepared rows", f"{best_copy:.2f} s"),
            ("ratio service / COPY (target <= 1.5)", f"{best_service / best_copy:.2f}"),
            ("cards per second through the service", f"{quantity / best_service:,.0f}"),
        ],
    )


def into_existing(quantity: int, rounds: int = 5) -> None:
    """Generate into the table as it is (e.g. the 10,000,000 cards of bench/shaped_dataset.py).

    Each round is a pair: `quantity` cards through the service, then as many equivalent
    prepared rows by raw COPY; both are deleted again (the summary triggers count all of it),
    so the table keeps its size from round to round. Reports the median of the pairs' ratios
    and of each side, not the best run.
    """
    from statistics import median

    from django.db import connection

    from topup.models import Card, Series

    fx = fixtures()
    size = Card.objects.count()
    pairs = []
    holder, _ = service(fx, 1, code="XH")  # a series for the raw rows to point at
    holder = Series.objects.get(code="XH")
    try:
        for i in range(rounds):
            took, series = service(fx, quantity, code=f"X{i}")
            copied = raw_copy(holder, quantity)
            pairs.append((took, copied))
            print(f"  pair {i + 1}: service {took:.2f} s, COPY {copied:.2f} s, {took / copied:.2f}")
            Card.objects.filter(series__in=[series, holder]).exclude(number="XH-00000001").delete()
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE topup_card")
    finally:
        Card.objects.filter(series__code__startswith="X").delete()
        Series.objects.filter(code__startswith="X").delete()
    report(
        f"Generate {quantity:,} cards into a table of {size:,} (medians of {rounds} pairs)",
        [
            ("series_generate (PINs, HMAC, AES-GCM, COPY)", f"{median(p[0] for p in pairs):.2f} s"),
            (
                "raw COPY of equivalent prepared rows, same table",
                f"{median(p[1] for p in pairs):.2f} s",
            ),
            (
                "median of the pairs' ratios (target <= 1.2)",
                f"{median(p[0] / p[1] for p in pairs):.2f}",
            ),
            ("load average", Path("/proc/loadavg").read_text().split()[0]),
        ],
    )


def million_child() -> None:
    fx = fixtures()
    reset_cards()
    before = rss_mb()
    reset_peak_rss()
    took, series = service(fx, 1_000_000, code="M")
    from topup.models import Card

    count = Card.objects.filter(series=series).count()
    print(f"MILLION {took:.1f} {before:.0f} {peak_rss_mb():.0f} {count}")
    reset_cards()


def million() -> None:
    """In a fresh process, so its peak RSS is the generation's alone."""
    out = subprocess.run(
        [sys.executable, __file__, "--million-child"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
        cwd=ROOT,
    ).stdout
    line = next(row for row in out.splitlines() if row.startswith("MILLION"))
    _, took, before, peak, count = line.split()
    report(
        "Generate 1,000,000 cards",
        [
            ("time", f"{float(took):.1f} s"),
            ("cards written", f"{int(count):,}"),
            ("process RSS before generating", f"{before} MB"),
            ("peak RSS while generating (target < 300 MB)", f"{peak} MB"),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quantity", type=int, default=100_000)
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--million-child", action="store_true")
    parser.add_argument(
        "--into-existing", action="store_true",
        help="generate into the table as it is (build it with bench/shaped_dataset.py first)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5, help="pairs for --into-existing")
    args = parser.parse_args()
    setup_django()
    if args.million_child:
        million_child()
    elif args.into_existing:
        into_existing(args.quantity, rounds=args.rounds)
    else:
        compare(args.quantity)
        if args.million:
            million()
