"""A large card table built by the database itself (INSERT ... SELECT), not the generator.

    BENCH_DATABASE=topup_big bin/with-postgres .venv/bin/python bench/dataset.py --cards 10000000

Twenty series over three resellers (north, its sub-reseller north retail, south), created a
fortnight apart and released at once; of each series 10% activated (over the last 90 days),
10% blocked, 10% expired unredeemed. PIN digests are unique hex strings, ciphertexts 44
random-looking bytes (the sizes of real ones). A database that already holds exactly this
many cards is reused: building ten million rows takes a while on a small machine. The card
triggers keep the summary exact as the rows go in; the summary is compacted and the table
analysed at the end.
"""

import argparse
import time

from common import fixtures, reset_cards, setup_django

SERIES = 20
CHUNK = 500_000

INSERT = """
INSERT INTO topup_card (series_id, number, reseller_id, amount, currency, pin_digest,
    pin_encrypted, pin_key_version, status, released_at, expires_at, activated_at,
    activated_by_id, created_at)
SELECT %(series)s,
       %(code)s || '-' || lpad(i::text, 8, '0'),
       %(reseller)s, %(amount)s, 'USD',
       encode(sha256(('bench' || %(series)s || ':' || i)::bytea), 'hex'),
       decode(md5(i::text) || md5(i::text) || '0123456789ab', 'hex'),
       2,
       CASE i %% 10 WHEN 1 THEN 'activated' WHEN 2 THEN 'blocked' ELSE 'new' END,
       %(created)s,
       CASE i %% 10 WHEN 3 THEN now() - interval '1 day' * (1 + i %% 30)
            ELSE %(expires)s END,
       CASE i %% 10 WHEN 1 THEN now() - interval '1 minute' * (i %% 129600) END,
       CASE i %% 10 WHEN 1 THEN %(account)s END,
       %(created)s
FROM generate_series(%(first)s, %(last)s) AS i
"""


def build(cards: int) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection, transaction
    from django.utils import timezone

    from billing.models import Account
    from topup.models import Card, Series
    from topup.services import summary_compact

    fx = fixtures()
    if Card.objects.count() == cards and Series.objects.filter(code="B00").exists():
        print(f"reusing {cards:,} cards", flush=True)
        return
    print(f"building {cards:,} cards ...", flush=True)
    began = time.perf_counter()
    reset_cards()
    account, _ = Account.objects.get_or_create(
        name="Bench customer", defaults={"reseller": fx["north"], "currency": "USD"}
    )
    retail, _ = type(fx["north"]).objects.get_or_create(
        name="Bench north retail", defaults={"currency": "USD", "parent": fx["north"]}
    )
    owners = [fx["north"], retail, fx["south"], fx["north"]]
    per_series = cards // SERIES
    now = timezone.now()
    for k in range(SERIES):
        created = now - timedelta(days=15 * (SERIES - k))
        series = Series.objects.create(
            code=f"B{k:02d}",
            amount=Decimal(5 * (1 + k % 4)),
            currency="USD",
            quantity=per_series,
            first_number=1,
            pin_length=14,
            reseller=owners[k % len(owners)],
            expires_at=now + timedelta(days=365),
            created_by=fx["operator"],
        )
        Series.objects.filter(pk=series.pk).update(created_at=created)
        for first in range(1, per_series + 1, CHUNK):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    INSERT,
                    {
                        "series": series.pk,
                        "code": series.code,
                        "reseller": series.reseller_id,
                        "amount": series.amount,
                        "expires": series.expires_at,
                        "account": account.pk,
                        "created": created,
                        "first": first,
                        "last": min(first + CHUNK - 1, per_series),
                    },
                )
        print(f"  series {series.code}: {per_series:,} cards", flush=True)
    summary_compact()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE topup_card")
        cursor.execute("VACUUM ANALYZE topup_cardsummary")
    print(f"built in {time.perf_counter() - began:.0f} s", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    args = parser.parse_args()
    setup_django()
    build(args.cards)
