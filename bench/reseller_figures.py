"""The Resellers section's wallet figures at 10M cards: stock value for every billed reseller.

Builds once (in BENCH_DATABASE, default `topup_bench_figures`) CARDS cards (default
10,000,000) of 20 series over 10 billed resellers, written by SQL (the figures read what the
card summary triggers keep, whoever writes the cards): 60 % new, 20 % activated, 5 % blocked
(half of them blocked in stock, never released), 5 % void, 10 % in stock. Then times
`wallets.figures.stock_values` over the whole tree (the median of 5) against pricing each
wallet's stock from the cards (`wallets.services.stock_value`, the reader the postings use),
and prints the plans of the figure's two queries (EXPLAIN ANALYZE).

    DATABASE_URL=postgres://... python bench/reseller_figures.py [--cards N]
"""

import argparse
import os
import statistics
import time

from common import report, setup_django

SERIES = 20
RESELLERS = 10


def build(cards: int) -> None:
    from django.contrib.auth.models import Group
    from django.db import connection

    from billing.services import account_open
    from resellers.models import Reseller, User
    from topup.models import Card
    from wallets.models import Wallet

    if Card.objects.exists():
        return
    root = Reseller.objects.create(name="Figures root", currency="USD")
    resellers = [
        Reseller.objects.create(name=f"Figures {i}", currency="USD", parent=root)
        for i in range(RESELLERS)
    ]
    operator, _ = User.objects.get_or_create(username="figures-operator", reseller=root)
    operator.groups.add(Group.objects.get(name="Operators"))
    buyer, _password = account_open(actor=operator, name="Buyer", reseller=root, username="buyer")
    per_series = cards // SERIES
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for s in range(SERIES):
            owner = resellers[s % RESELLERS]
            cursor.execute(
                "INSERT INTO topup_series (code, amount, currency, quantity, first_number,"
                " pin_length, state, progress, error, created_at, reseller_id, in_stock, runs,"
                " label, notes) VALUES (%s, %s, 'USD', %s, 1, 14, 'done', %s, '', now(), %s,"
                " false, 1, '', '') RETURNING id",
                [f"F{s}", 5 + s % 4 * 5, per_series, per_series, owner.pk],
            )
            series_id = cursor.fetchone()[0]
            # status by n mod 20: 12 new, 4 activated, 1 blocked released, 1 blocked in
            # stock, 1 void, 1 in stock.
            cursor.execute(
                """
                INSERT INTO topup_card (number, amount, currency, pin_digest, pin_encrypted,
                    pin_key_version, status, expires_at, activated_at, created_at,
                    activated_by_id, reseller_id, series_id, released_at)
                SELECT %(code)s || '-' || lpad(n::text, 8, '0'), %(amount)s, 'USD',
                    md5(%(code)s || n::text) || md5(n::text || %(code)s), '\\x00'::bytea, 1,
                    CASE WHEN n %% 20 < 12 THEN 'new' WHEN n %% 20 < 16 THEN 'activated'
                         WHEN n %% 20 < 18 THEN 'blocked' WHEN n %% 20 = 18 THEN 'void'
                         ELSE 'in_stock' END,
                    now() + interval '1 year',
                    CASE WHEN n %% 20 BETWEEN 12 AND 15 THEN now() END, now(),
                    CASE WHEN n %% 20 BETWEEN 12 AND 15 THEN %(buyer)s END,
                    %(owner)s, %(series)s,
                    CASE WHEN n %% 20 IN (17, 19) THEN NULL ELSE now() END
                FROM generate_series(1, %(count)s) AS n
                """,
                {"code": f"F{s}", "amount": 5 + s % 4 * 5, "owner": owner.pk,
                 "series": series_id, "count": per_series, "buyer": buyer.pk},
            )  # fmt: skip
        cursor.execute("VACUUM ANALYZE topup_card")
        cursor.execute("VACUUM ANALYZE topup_cardsummary")
    for i, reseller in enumerate(resellers):
        Wallet.objects.create(
            reseller=reseller, currency="USD", digits=2, discount=5 + i, credit_limit=1000
        )
    print(f"built {cards:,} cards in {time.perf_counter() - started:.0f} s")


def median_ms(work, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=10_000_000)
    args = parser.parse_args()
    setup_django(os.environ.get("BENCH_DATABASE", "topup_bench_figures"))
    from django.db import connection
    from django.db.models import Count, Sum

    from resellers.models import Reseller
    from topup.models import Card, CardSummary
    from wallets import services
    from wallets.figures import stock_values
    from wallets.models import Wallet

    build(args.cards)
    ids = list(Reseller.objects.values_list("pk", flat=True))
    wallets = list(Wallet.objects.all())
    summary_ms = median_ms(lambda: stock_values(ids))
    cards_ms = median_ms(lambda: [services.stock_value(w) for w in wallets], runs=1)
    figures = stock_values(ids)
    priced = {w.reseller_id: services.stock_value(w) for w in wallets}
    assert {pk: value for pk, (value, _c) in figures.items()} == priced, "the readers disagree"
    plans = []
    with connection.cursor() as cursor:
        for query in (
            CardSummary.objects.filter(reseller_id__in=ids, status__in=["new", "blocked"])
            .order_by()
            .values_list("reseller_id", "currency", "series_id", "amount")
            .annotate(n=Sum("cards")),
            Card.objects.filter(reseller_id__in=ids, status="blocked", released_at__isnull=True)
            .order_by()
            .values_list("reseller_id", "currency", "series_id", "amount")
            .annotate(n=Count("*")),
        ):
            sql, params = query.query.sql_with_params()
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    report(
        f"Wallet figures at {Card.objects.count():,} cards, {len(wallets)} billed resellers",
        [
            ("stock value of every reseller, card summary (median of 5)", f"{summary_ms:.1f} ms"),
            ("the same priced from the cards, one reseller at a time", f"{cards_ms:.0f} ms"),
            ("summary rows read", f"{CardSummary.objects.count():,}"),
        ],
    )
    for plan in plans:
        print(plan, end="\n\n")


if __name__ == "__main__":
    main()
