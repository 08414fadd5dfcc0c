"""The card list and the series overview at any size: Django page against raw SQL of the page.

    BENCH_DATABASE=topup_1m  bin/with-postgres .venv/bin/python bench/card_list.py --cards 1000000
    BENCH_DATABASE=topup_10m bin/with-postgres .venv/bin/python bench/card_list.py --cards 10000000

The data set is built by the database itself (`bench/dataset.py`, INSERT ... SELECT) and
reused when the database already holds it. Each page is fetched through Django's test client
(session, scope, django-filter, totals, pagination, template) and compared with the statements
a hand-written page needs for the same output: the totals from the card summary, the 50 rows
(for a numbered page: their keys by an index walk, then the rows), and for the series overview
the page of series and their counts.
"""

import argparse
import statistics
import time

from common import fixtures, report, setup_django
from dataset import build

RUNS = 5

TOTALS = """
SELECT currency,
  sum(cards) FILTER (WHERE status = 'in_stock' AND (expires_at IS NULL OR expires_at > now())),
  sum(cards * amount) FILTER (WHERE status = 'in_stock' AND (expires_at IS NULL OR expires_at > now())),
  sum(cards) FILTER (WHERE status = 'new' AND (expires_at IS NULL OR expires_at > now())),
  sum(cards * amount) FILTER (WHERE status = 'new' AND (expires_at IS NULL OR expires_at > now())),
  sum(cards) FILTER (WHERE status = 'activated'), sum(cards * amount) FILTER (WHERE status = 'activated'),
  sum(cards) FILTER (WHERE status IN ('in_stock', 'new') AND expires_at <= now()),
  sum(cards * amount) FILTER (WHERE status IN ('in_stock', 'new') AND expires_at <= now()),
  sum(cards) FILTER (WHERE status = 'blocked'), sum(cards * amount) FILTER (WHERE status = 'blocked'),
  sum(cards) FILTER (WHERE status = 'void'), sum(cards * amount) FILTER (WHERE status = 'void'),
  count(*)
FROM topup_cardsummary WHERE reseller_id = ANY(%(scope)s) AND {where}
GROUP BY currency ORDER BY currency
"""  # noqa: E501
KEYS = """
SELECT id FROM topup_card WHERE reseller_id = ANY(%(scope)s) AND {where}
ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET %(offset)s
"""
ROWS = """
SELECT c.id, c.number, c.amount, c.currency, c.status, c.expires_at, c.activated_at,
       c.created_at, r.name, a.name
FROM topup_card c JOIN resellers_reseller r ON r.id = c.reseller_id
LEFT JOIN billing_account a ON a.id = c.activated_by_id
WHERE c.id = ANY(%(ids)s)
"""
SERIES_PAGE = """
SELECT s.id, s.code, s.amount, s.currency, s.quantity, s.first_number, s.created_at, s.state,
       r.name
FROM topup_series s JOIN resellers_reseller r ON r.id = s.reseller_id
WHERE s.reseller_id = ANY(%(scope)s) ORDER BY s.created_at DESC, s.id DESC LIMIT 50
"""
SERIES_COUNTS = """
SELECT series_id,
  sum(cards) FILTER (WHERE status = 'new' AND (expires_at IS NULL OR expires_at > now())),
  sum(cards) FILTER (WHERE status = 'activated'),
  sum(cards) FILTER (WHERE status = 'new' AND expires_at <= now()),
  sum(cards) FILTER (WHERE status = 'blocked'),
  sum(cards * amount) FILTER (WHERE status = 'new' AND (expires_at IS NULL OR expires_at > now()))
FROM topup_cardsummary WHERE reseller_id = ANY(%(scope)s) AND series_id = ANY(%(series)s)
GROUP BY series_id
"""


def cases(fx):
    """(label, URL, query string, summary condition, card condition, offset, extra params)."""
    from resellers.models import Reseller
    from topup.models import Series

    older = Series.objects.get(code="B05")
    subtree = list(Reseller.objects.subtree_of(fx["north"]).values_list("pk", flat=True))
    new = "status = 'new' AND (expires_at IS NULL OR expires_at > now())"
    return [
        ("card list, no search", "/cards/", {}, "true", "true", 0, {}),
        ("card list, status = new", "/cards/", {"status": "new"}, new, new, 0, {}),
        (
            "card list, series = B05 (an older one)",
            "/cards/",
            {"series": "B05"},
            "series_id = ANY(%(series)s)",
            "series_id = ANY(%(series)s)",
            0,
            {"series": [older.pk]},
        ),
        (
            "card list, reseller = north with its subtree",
            "/cards/",
            {"reseller": fx["north"].pk},
            "reseller_id = ANY(%(subtree)s)",
            "reseller_id = ANY(%(subtree)s)",
            0,
            {"subtree": subtree},
        ),
        ("card list, page 2,000", "/cards/", {"page": 2000}, "true", "true", 99_950, {}),
        ("series overview", "/series/", {}, None, None, 0, {}),
    ]


def timed(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def raw_list(cursor, args, summary_where, card_where) -> None:
    cursor.execute(TOTALS.format(where=summary_where), args)
    cursor.fetchall()
    cursor.execute(KEYS.format(where=card_where), args)
    ids = [row[0] for row in cursor.fetchall()]
    cursor.execute(ROWS, {"ids": ids})
    cursor.fetchall()


def raw_series(cursor, args) -> None:
    cursor.execute("SELECT count(*) FROM topup_series WHERE reseller_id = ANY(%(scope)s)", args)
    cursor.fetchall()
    cursor.execute(SERIES_PAGE, args)
    series = [row[0] for row in cursor.fetchall()]
    cursor.execute(SERIES_COUNTS, {**args, "series": series})
    cursor.fetchall()


def run(cards: int) -> dict:
    from django.db import connection
    from django.test import Client

    from resellers.scoping import reseller_ids_visible_to
    from topup.models import Card

    build(cards)
    fx = fixtures()
    client = Client()
    client.force_login(fx["operator"])
    scope = reseller_ids_visible_to(fx["operator"])
    total = Card.objects.count()
    rows, figures = [], {}
    for label, url, params, summary_where, card_where, offset, extra in cases(fx):
        args = {"scope": scope, "offset": offset, **extra}

        def page(url=url, params=params):
            response = client.get(url, params, HTTP_HOST="127.0.0.1")
            assert response.status_code == 200 and b"<table" in response.content

        def raw(summary_where=summary_where, card_where=card_where, args=args):
            with connection.cursor() as cursor:
                if summary_where is None:
                    raw_series(cursor, args)
                else:
                    raw_list(cursor, args, summary_where, card_where)

        page()
        raw()  # warm both
        django_time, raw_time = timed(page), timed(raw)
        figures[label] = (django_time, raw_time)
        rows.append(
            (label, f"page {django_time * 1000:7.1f} ms   raw SQL {raw_time * 1000:7.1f} ms   "
                    f"ratio {django_time / raw_time:4.2f}")
        )  # fmt: skip
    report(f"Card list and series overview with {total:,} cards (median of {RUNS})", rows)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    args = parser.parse_args()
    setup_django()
    run(args.cards)
