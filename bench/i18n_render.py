"""What translation costs a page: the same pages rendered in English and in Spanish.

make bench            (all benchmarks)
bin/with-postgres .venv/bin/python bench/i18n_render.py [--runs 20] [--cards 500]

Three real pages through the whole stack in-process (Django's test client: middleware,
session, view, template, the locale filters): the card list and the dashboard (the operator's
home) as an operator, Payment Gateways as a customer. Each round requests every page once in
each language, the order of the two languages alternating from round to round (interleaved,
so a slower moment of the machine falls on both); the figure is the median of the rounds and
the ratio Spanish / English. The language is the language cookie, as the switcher sets it.
Each request is timed twice: the worker's CPU time (`time.process_time`: what translation
costs is Python work, and a shared machine's other processes do not count in it) and the
wall-clock time (which also holds the database's share). Target: at most 1.1x (issue 26).
"""

import argparse
import logging
import statistics
import time
from decimal import Decimal

from common import fixtures, report, reset_cards
from common import setup_django as _setup

PAGES = [
    ("card list", "operator", "/cards/"),
    ("home (dashboard)", "operator", "/dashboard/"),
    ("Payment Gateways", "customer", "/payment-gateways/"),
]
LANGUAGES = ("en", "es")
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def prepare(cards: int) -> dict:
    from django.contrib.auth.models import Group

    from billing import services as billing
    from billing.models import Account, Transaction
    from topup import services

    fx = fixtures()
    reset_cards()
    services.series_generate(
        user=fx["operator"],
        request=services.SeriesRequest(
            reseller=fx["north"], amount=Decimal("10.00"), quantity=cards, code="I18N"
        ),
        background=False,
    )
    account = Account.objects.filter(user__username="bench-i18n-customer").first()
    if account is None:
        account, _password = billing.account_open(
            actor=fx["operator"], name="Bench customer", reseller=fx["north"],
            username="bench-i18n-customer",
        )  # fmt: skip
        for n in range(20):
            billing.account_credit(
                account=account,
                amount=Decimal("12.50"),
                kind=Transaction.Kind.MANUAL_PAYMENT,
                description=f"Bench credit {n}",
            )
    customer = account.user
    customer.must_change_password = False
    customer.save(update_fields=["must_change_password"])
    customer.groups.add(Group.objects.get(name="Customers"))
    return {"operator": fx["operator"], "customer": customer}


def clients(users: dict) -> dict:
    from django.conf import settings
    from django.test import Client

    made = {}
    for role, user in users.items():
        for language in LANGUAGES:
            client = Client()
            client.force_login(user)
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
            made[role, language] = client
    return made


def measure(made: dict, runs: int) -> dict:
    times = {
        (clock, page, language): []
        for clock in CLOCKS
        for page, _role, _url in PAGES
        for language in LANGUAGES
    }
    for round_number in range(runs + 2):  # two warm-up rounds, not counted
        order = LANGUAGES if round_number % 2 == 0 else LANGUAGES[::-1]
        for page, role, url in PAGES:
            for language in order:
                start = {clock: read() for clock, read in CLOCKS.items()}
                response = made[role, language].get(url)
                elapsed = {clock: read() - start[clock] for clock, read in CLOCKS.items()}
                assert response.status_code == 200, (url, response.status_code)
                assert f'lang="{language}"' in response.content.decode()[:400]
                if round_number >= 2:
                    for clock in CLOCKS:
                        times[clock, page, language].append(elapsed[clock])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cards", type=int, default=500)
    args = parser.parse_args()
    _setup("topup_bench_i18n")
    logging.getLogger("axes").setLevel(logging.WARNING)  # a line per sign-in otherwise
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's ALLOWED_HOSTS (testserver)
    made = clients(prepare(args.cards))
    times = measure(made, args.runs)
    rows, ratios = [], []
    for page, _role, _url in PAGES:
        line = []
        for clock in CLOCKS:
            english, spanish = (statistics.median(times[clock, page, lang]) for lang in LANGUAGES)
            line.append(
                f"{clock}: en {english * 1000:6.1f} ms, es {spanish * 1000:6.1f} ms,"
                f" {spanish / english:.3f}x"
            )
            if clock == "cpu":
                ratios.append(spanish / english)
        rows.append((page, "   ".join(line)))
    rows.append(("worst CPU ratio (target <= 1.1x)", f"{max(ratios):.3f}x"))
    report(f"Rendering in Spanish against English, median of {args.runs} interleaved rounds", rows)


if __name__ == "__main__":
    main()
