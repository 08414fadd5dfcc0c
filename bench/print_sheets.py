"""Card sheets for 10,000 cards: pages per second and peak memory of the worker's path.

make bench            (all benchmarks)
bin/with-postgres .venv/bin/python bench/print_sheets.py [--cards 10000] [--qr-cards 10000]
    [--thermal-cards 1000]

Each layout runs in a fresh process (its peak RSS is the sheet's own) through the real
service: `cards_print(background=True)` audits and stores the job, the task runs it (the
immediate task backend runs it at commit, as `db_worker` would), the sealed PDF is then
downloaded once. The encrypted export of the same cards to a print shop's key is timed too.
"""

import argparse
import os
import subprocess
import sys

from common import ROOT, fixtures, peak_rss_mb, report, reset_cards, reset_peak_rss, rss_mb, timer
from common import setup_django as _setup

LAYOUTS = {
    "a4": {"paper": "a4"},
    "a4-qr": {"paper": "a4", "qr": "link", "link": "https://pay.example.com/payment-gateways/"},
    "thermal-qr": {"paper": "thermal", "qr": "pin"},
}
CODE = "PRN"


def prepare(cards: int) -> None:
    from decimal import Decimal

    from topup import services

    fx = fixtures()
    reset_cards()
    request = services.SeriesRequest(
        reseller=fx["north"], amount=Decimal("10.00"), quantity=cards, code=CODE
    )
    services.series_generate(user=fx["operator"], request=request, background=False)


def child(layout_name: str, cards: int) -> None:
    from topup import services
    from topup.models import Card, SheetJob

    fx = fixtures()
    selection = Card.objects.filter(series__code=CODE).order_by("number")[:cards]
    ids = list(selection.values_list("pk", flat=True))
    before = rss_mb()
    reset_peak_rss()
    results = {}
    with timer(results, "render"):
        result = services.cards_print(
            user=fx["operator"],
            cards=Card.objects.filter(pk__in=ids),
            selection={"bench": layout_name},
            layout=services.SheetLayout(**LAYOUTS[layout_name]),
            background=True,
        )
    job = SheetJob.objects.get(pk=result.job.pk)
    assert job.state == SheetJob.State.DONE, job.error
    with timer(results, "download"):
        size = sum(
            len(chunk) for chunk in services.sheet_job_download(user=fx["operator"], job=job)
        )
    took, download = results["render"], results["download"]
    print(f"SHEET {took:.2f} {download:.3f} {job.pages} {size} {before:.0f} {peak_rss_mb():.0f}")


def export_child(cards: int) -> None:
    from topup import services
    from topup.models import Card, PrintShop

    fx = fixtures()
    key = (ROOT / "tests" / "topup" / "keys" / "printshop-test.pub.asc").read_text()
    PrintShop.objects.filter(name="Bench shop").delete()
    shop = services.print_shop_add(user=fx["operator"], name="Bench shop", public_key=key)
    ids = list(Card.objects.filter(series__code=CODE).values_list("pk", flat=True)[:cards])
    before = rss_mb()
    reset_peak_rss()
    results = {}
    with timer(results, "export"):
        size = sum(
            len(chunk)
            for chunk in services.cards_export_encrypted(
                user=fx["operator"], cards=Card.objects.filter(pk__in=ids), selection={}, shop=shop
            )
        )
    print(f"EXPORT {results['export']:.2f} {size} {before:.0f} {peak_rss_mb():.0f}")


def run_child(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PRINT_SHEET_MAX_CARDS": "1000000"},
        cwd=ROOT,
    ).stdout
    return next(row for row in out.splitlines() if row.startswith(("SHEET", "EXPORT"))).split()[1:]


def main(cards: int, qr_cards: int, thermal_cards: int) -> None:
    prepare(cards)
    counts = {"a4": cards, "a4-qr": qr_cards, "thermal-qr": thermal_cards}
    rows = []
    for name, count in counts.items():
        took, download, pages, size, before, peak = run_child("--child", name, str(count))
        took, pages = float(took), int(pages)
        done = [
            (f"{name}: {count:,} cards, {pages:,} pages", f"{took:.1f} s"),
            (f"{name}: pages per second", f"{pages / took:.2f}"),
            (f"{name}: cards per second", f"{count / took:,.1f}"),
            (f"{name}: PDF size", f"{int(size) / 2**20:.1f} MB"),
            (f"{name}: download (unseal + stream)", f"{float(download):.2f} s"),
            (f"{name}: peak RSS (process before: {before} MB)", f"{peak} MB"),
        ]
        report(name, done)  # as it goes: a layout can take minutes
        rows += done
    took, size, before, peak = run_child("--export-child", str(cards))
    rows += [
        (f"encrypted export: {cards:,} cards", f"{float(took):.2f} s"),
        ("encrypted export: file size", f"{int(size) / 2**10:.0f} KB"),
        (f"encrypted export: peak RSS (before: {before} MB)", f"{peak} MB"),
    ]
    reset_cards()
    report(f"Card sheets (worker path, {os.cpu_count()} cores)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--qr-cards", type=int, default=10_000)
    parser.add_argument("--thermal-cards", type=int, default=1_000)
    parser.add_argument("--child", nargs=2)
    parser.add_argument("--export-child", type=int)
    args = parser.parse_args()
    # BENCH_DB: a database of one's own when several people benchmark on one server.
    _setup(os.environ.get("BENCH_DB", "topup_bench"), migrate=not (args.child or args.export_child))
    if args.child:
        child(args.child[0], int(args.child[1]))
    elif args.export_child:
        export_child(args.export_child)
    else:
        main(args.cards, args.qr_cards, args.thermal_cards)
