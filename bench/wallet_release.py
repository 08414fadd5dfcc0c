"""Releasing a million cards to a prepaid reseller, against the same release without wallets.

    BENCH_DATABASE=topup_bench bin/with-postgres .venv/bin/python bench/wallet_release.py \
        [--cards 1000000] [--rounds 3]

One series of `--cards` cards of 5.00 USD is generated in stock by the product's own
generation (`series_generate`, once; later runs reuse it). Each round releases the whole
serial range twice through `cards_release(background=True)` (the worker's own code: the
job, its id-ordered chunks, one transaction each), timed from the call to the job's end:

- *with wallets*: to "Bench north", prepaid at 10 % with a credit limit that covers it: the
  selection's pre-check, each chunk's grouping statement and its wallet posting (lock, update,
  entry), all in the chunk's transaction;
- *without wallets*: to "Bench south", with the bulk engine's money hook switched off for the
  run (`Release.moves_money` answers False), which is the release as it was before wallets.

The two alternate, first one then the other, so a drift of the machine falls on both; the
cards go back into stock (and the table is vacuumed) before each release. The figures are the
medians over the rounds, and their ratio (target <= 1.2).
"""

import argparse
import os
import statistics
import time
from decimal import Decimal

from common import report, setup_django
from release import back_in_stock, prepare

LIMIT = Decimal("900000000")


# Seconds spent in the wallets' own work during the runs with wallets: the selection's
# pre-check, each chunk's grouping statement and its posting (timed in-process, so the share
# of the job they take is measured in the same run, whatever else loads the machine).
WALLET_WORK = {"check": 0.0, "groups": 0.0, "post": 0.0}


def _timed(owner, name: str, key: str):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            WALLET_WORK[key] += time.perf_counter() - began

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


def released(releaser, selection, to, *, wallets: bool) -> float:
    from topup import services
    from topup.models import BulkJob
    from topup.selectors import cards_for_selection
    from topup.services.bulk import apply, chunks
    from topup.services.lifecycle import Release

    original = Release.moves_money
    if not wallets:
        Release.moves_money = lambda self: False
    undo = (
        [
            _timed(apply, "check_money", "check"),
            _timed(chunks.ChunkStatement, "_groups", "groups"),
            _timed(chunks, "wallet_cards_post", "post"),
        ]
        if wallets
        else []
    )
    try:
        began = time.perf_counter()
        result = services.cards_release(
            user=releaser,
            cards=cards_for_selection(releaser, selection),
            selection=selection,
            reseller=to,
            background=True,
        )
        took = time.perf_counter() - began
    finally:
        Release.moves_money = original
        for restore in undo:
            restore()
    job = BulkJob.objects.get(pk=result.job.pk)
    assert job.state == BulkJob.State.DONE, (job.state, job.error)
    return took


def run(cards: int, rounds: int) -> None:
    from django.conf import settings

    from wallets.models import Wallet
    from wallets.services import wallet_configure, wallet_topup

    fx, series, releaser = prepare(cards)
    first, last = (
        f"{series.code}-{series.first_number:08d}",
        f"{series.code}-{series.last_number:08d}",
    )
    selection = {"search": f"serials_min={first}&serials_max={last}"}
    wallet = wallet_configure(
        actor=fx["operator"], reseller=fx["north"], billing_mode="prepaid",
        discount=Decimal("10"), credit_limit=LIMIT,
    )  # fmt: skip
    Wallet.objects.filter(reseller=fx["south"]).delete()  # nothing posted to south, ever
    cost = Decimal("4.50") * cards
    times: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(rounds):
        for wallets in (True, False) if round_ % 2 == 0 else (False, True):
            back_in_stock(series)
            if wallets:
                wallet.refresh_from_db()
                if wallet.balance - cost < -LIMIT:
                    wallet_topup(wallet=wallet, amount=cost, note="bench", by=fx["operator"])
            to = fx["north"] if wallets else fx["south"]
            times[wallets].append(released(releaser, selection, to, wallets=wallets))
            print(f"round {round_ + 1}, {'with' if wallets else 'without'} wallets: "
                  f"{times[wallets][-1]:.2f} s", flush=True)  # fmt: skip
    with_wallets, without = (statistics.median(times[key]) for key in (True, False))
    entries = wallet.entries.filter(kind="release").count()
    report(
        f"Release of {cards:,} cards to a prepaid reseller against the same release without "
        f"wallets, chunks of {settings.TOPUP_BULK_CHUNK_SIZE:,}, median of {rounds} "
        "interleaved rounds",
        [
            ("with wallets (pre-check, grouping, posting per chunk)", f"{with_wallets:.2f} s"),
            ("without wallets (the money hook off)", f"{without:.2f} s"),
            ("ratio with / without (target <= 1.2)", f"{with_wallets / without:.3f}"),
            (
                "wallet work inside the runs with wallets (check, grouping, posting)",
                f"{sum(WALLET_WORK.values()):.2f} s of {sum(times[True]):.2f} s "
                f"({sum(WALLET_WORK.values()) / sum(times[True]):.1%}): "
                + ", ".join(f"{key} {value:.2f} s" for key, value in WALLET_WORK.items()),
            ),
            ("every run, with", ", ".join(f"{t:.2f}" for t in times[True])),
            ("every run, without", ", ".join(f"{t:.2f}" for t in times[False])),
            ("release entries written so far (one per chunk)", f"{entries:,}"),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["TOPUP_FOUR_EYES"] = "true"
    os.environ.setdefault("DB_STATEMENT_TIMEOUT_WEB", "0")  # putting 1M cards back in stock
    setup_django()
    run(args.cards, args.rounds)
