"""The card list with a million cards: Django page against the raw SQL of the same page.

    bin/with-postgres .venv/bin/python bench/card_list.py [--cards 1000000] [--explain]

For each search, the list page is fetched through Django's test client (session, scope,
django-filter, totals, pagination, template) and compared with the two statements a
hand-written page needs: the 50 rows and the totals by status.
"""

import argparse
import statistics
import time
from decimal import Decimal

from common import fixtures, report, reset_cards, setup_django

RUNS = 5


def populate(fx, cards: int) -> None:
    """`cards` cards in four series over two resellers; some activated, blocked, expired."""
    from django.db import connection
    from django.utils import timezone

    from billing.models import Account
    from topup import services

    reset_cards()
    quarter = cards // 4
    for i, (code, reseller) in enumerate(
        [("N1", "north"), ("N2", "north"), ("S1", "south"), ("S2", "south")]
    ):
        services.series_generate(
            user=fx["operator"],
            request=services.SeriesRequest(
                reseller=fx[reseller],
                amount=Decimal(5 * (i + 1)),
                quantity=quarter,
                code=code,
                pin_length=14,
                expires_at=timezone.now() + timezone.timedelta(days=365),
                in_stock=False,
            ),
            background=False,
        )
    account, _ = Account.objects.get_or_create(
        name="Bench customer", defaults={"reseller": fx["north"], "currency": "USD"}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE topup_card SET status = 'activated', activated_at = now(), activated_by_id = %s"
            " WHERE id %% 10 = 1",
            [account.pk],
        )
        cursor.execute("UPDATE topup_card SET status = 'blocked' WHERE id % 10 = 2")
        cursor.execute(
            "UPDATE topup_card SET expires_at = now() - interval '1 day' WHERE id % 10 = 3"
        )
        cursor.execute("VACUUM ANALYZE topup_card")


TOTALS = """
SELECT currency,
  count(*) FILTER (WHERE status = 'in_stock' AND (expires_at IS NULL OR expires_at > now())),
  sum(amount) FILTER (WHERE status = 'in_stock' AND (expires_at IS NULL OR expires_at > now())),
  count(*) FILTER (WHERE status = 'new' AND (expires_at IS NULL OR expires_at > now())),
  sum(amount) FILTER (WHERE status = 'new' AND (expires_at IS NULL OR expires_at > now())),
  count(*) FILTER (WHERE status = 'activated'), sum(amount) FILTER (WHERE status = 'activated'),
  count(*) FILTER (WHERE status IN ('in_stock', 'new') AND expires_at <= now()),
  sum(amount) FILTER (WHERE status IN ('in_stock', 'new') AND expires_at <= now()),
  count(*) FILTER (WHERE status = 'blocked'), sum(amount) FILTER (WHERE status = 'blocked'),
  count(*) FILTER (WHERE status = 'void'), sum(amount) FILTER (WHERE status = 'void')
FROM topup_card WHERE reseller_id = ANY(%(scope)s) AND {where}
GROUP BY currency ORDER BY currency
"""
PAGE = """
SELECT c.id, c.number, c.amount, c.currency, c.status, c.expires_at, c.activated_at,
       c.created_at, r.name, a.name
FROM topup_card c JOIN resellers_reseller r ON r.id = c.reseller_id
LEFT JOIN billing_account a ON a.id = c.activated_by_id
WHERE c.reseller_id = ANY(%(scope)s) AND {where}
ORDER BY c.created_at DESC, c.id DESC LIMIT 50
"""


def searches(fx):
    from topup.models import Series

    s2 = Series.objects.get(code="S2")
    north = fx["north"].pk
    return [
        ("no search", {}, "true", {}),
        (
            "status = new",
            {"status": "new"},
            "status = 'new' AND (expires_at IS NULL OR expires_at > now())",
            {},
        ),
        (
            "reseller = north (with subtree)",
            {"reseller": north},
            "reseller_id IN (SELECT id FROM resellers_reseller WHERE path LIKE %(path)s)",
            {"path": fx["north"].path + "%"},
        ),
        (
            "series = S2",
            {"series": "S2"},
            "series_id IN (SELECT id FROM topup_series WHERE code = %(code)s)",
            {"code": s2.code},
        ),
    ]


def timed(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(cards: int, explain: bool) -> None:
    from django.db import connection
    from django.test import Client

    from resellers.scoping import reseller_ids_visible_to

    fx = fixtures()
    from topup.models import Card

    if Card.objects.count() != cards or not Card.objects.filter(status="blocked").exists():
        print(f"populating {cards:,} cards ...", flush=True)
        populate(fx, cards)
    client = Client()
    client.force_login(fx["operator"])
    scope = reseller_ids_visible_to(fx["operator"])
    rows = []
    for label, params, where, extra in searches(fx):
        args = {"scope": scope, **extra}

        def page(params=params):
            response = client.get("/cards/", params)
            assert response.status_code == 200 and b'<table class="cards">' in response.content

        def raw(where=where, args=args):
            with connection.cursor() as cursor:
                cursor.execute(
                    PAGE.format(
                        where=where.replace("reseller_id", "c.reseller_id").replace(
                            "series_id", "c.series_id"
                        )
                    ),
                    args,
                )
                cursor.fetchall()
                cursor.execute(TOTALS.format(where=where), args)
                cursor.fetchall()

        page()
        raw()  # warm both
        django_time, raw_time = timed(page), timed(raw)
        rows.append(
            (label, f"page {django_time * 1000:7.1f} ms   raw SQL {raw_time * 1000:7.1f} ms   "
                    f"ratio {django_time / raw_time:4.2f} (target <= 2)")
        )  # fmt: skip
        if explain:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN ANALYZE " + TOTALS.format(where=where), args)
                print(f"\n-- EXPLAIN totals, {label}")
                print("\n".join(r[0] for r in cursor.fetchall()))
    report(f"Card list with {Card.objects.count():,} cards (median of {RUNS})", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    setup_django()
    run(args.cards, args.explain)
