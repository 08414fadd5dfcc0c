"""Mass edit of a million cards' expiry: the service against one raw UPDATE.

bin/with-postgres .venv/bin/python bench/mass_edit.py [--cards 1000000]
"""

import argparse
from datetime import timedelta

from common import fixtures, report, setup_django, timer


def run(cards: int, rounds: int = 3) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from topup import services
    from topup.models import Card

    fx = fixtures()
    if Card.objects.count() < cards:
        from dataset import build

        build(cards)
    total = Card.objects.count()
    changeable = Card.objects.exclude(status="activated").count()
    best_service = best_raw = float("inf")
    for i in range(rounds):
        when = timezone.now() + timedelta(days=400 + i)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM topup_card")
        results = {}
        with timer(results, "raw"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE topup_card SET expires_at = %s WHERE reseller_id = ANY(%s) "
                "AND NOT status = 'activated'",
                [when, [fx["root"].pk, fx["north"].pk, fx["south"].pk]],
            )
            assert cursor.rowcount == changeable
        with connection.cursor() as cursor:
            cursor.execute("VACUUM topup_card")
        with timer(results, "service"):
            result = services.cards_mass_update(
                user=fx["operator"],
                cards=Card.objects.all(),
                edit=services.MassEdit(expiry_mode="set", expires_at=when + timedelta(days=1)),
                selection={"search": ""},
                background=False,  # the one-transaction path; bench/bulk_jobs.py: the chunked one
            )
        assert result.changed == changeable
        best_service = min(best_service, results["service"])
        best_raw = min(best_raw, results["raw"])
    report(
        f"Mass edit: set the expiry of {changeable:,} of {total:,} cards (best of {rounds})",
        [
            ("cards_mass_update (count skipped, UPDATE, audit)", f"{best_service:.2f} s"),
            ("one raw UPDATE", f"{best_raw:.2f} s"),
            ("ratio service / UPDATE (target <= 1.5)", f"{best_service / best_raw:.2f}"),
        ],
    )


def pairs(count: int = 5) -> None:
    """`count` interleaved pairs (raw UPDATE, then the service) on the shaped data set; the
    median of each side and the median of the pairs' ratios. Every changeable card's expiry
    is set (the activated ones are skipped by both), VACUUM before each statement."""
    import statistics

    from django.db import connection, transaction
    from django.utils import timezone

    from topup import services
    from topup.models import Card

    fx = fixtures()
    changeable = Card.objects.exclude(status__in=["activated", "void"]).count()
    raw, service = [], []
    for i in range(count):
        when = timezone.now() + timedelta(days=400 + i)
        results = {}
        with connection.cursor() as cursor:
            cursor.execute("VACUUM topup_card")
        with timer(results, "raw"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE topup_card SET expires_at = %s WHERE NOT status IN ('activated', 'void')",
                [when],
            )
            assert cursor.rowcount == changeable
        with connection.cursor() as cursor:
            cursor.execute("VACUUM topup_card")
        with timer(results, "service"):
            result = services.cards_mass_update(
                user=fx["operator"],
                cards=Card.objects.all(),
                edit=services.MassEdit(expiry_mode="set", expires_at=when + timedelta(hours=1)),
                selection={"search": ""},
                background=False,
            )
        assert result.changed == changeable
        raw.append(results["raw"])
        service.append(results["service"])
        print(f"  pair {i + 1}: UPDATE {results['raw']:.2f} s, service {results['service']:.2f} s",
              flush=True)  # fmt: skip
    ratios = [s / r for s, r in zip(service, raw, strict=True)]
    report(
        f"Mass edit of {changeable:,} cards: {count} interleaved pairs, medians",
        [
            ("cards_mass_update", f"{statistics.median(service):.2f} s"),
            ("one raw UPDATE", f"{statistics.median(raw):.2f} s"),
            ("median of the pairs' ratios (target <= 1.5)", f"{statistics.median(ratios):.2f}"),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=0, help="interleaved pairs on this database")
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    setup_django(args.database)
    if args.pairs:
        pairs(args.pairs)
    else:
        run(args.cards)
