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


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    args = parser.parse_args()
    setup_django()
    run(args.cards)
