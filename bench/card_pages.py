"""Every search field, sort and page of the card list, and the other read pages, through gunicorn.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/card_pages.py \
        --cards 1000000 --database topup_scale_1m
    ... --cards 10000000 --database topup_scale_10m --compare /tmp/card-pages-topup_scale_1m.json

The data set is `bench/shaped_dataset.py` (built once by the product's own commands, reused).
gunicorn (4 workers, gthread, as bench/api.py starts it) serves the panel with the production
settings and test-only keys (config.settings_test: DEBUG off, every middleware; two-factor
sign-in off for the bench operator). One signed-in operator fetches each page over a kept-alive
connection: once to warm, then 5 times; the median is reported, with the indexes the card
list's page query walks (its EXPLAIN). The card list's searches are read from the FilterSet,
as in tests/topup/test_card_list_plans.py, every status and every sort in both directions.
Results are written to /tmp/card-pages-<database>.json; `--compare` prints each page's ratio
against an earlier run (the 1M figures). `--interleave <smaller database>` measures both data
sets in one run, page by page in alternation (what docs/benchmarks.md records):

    ... bench/card_pages.py --cards 10000000 --database topup_scale_10m --interleave topup_scale_1m
"""

import argparse
import http.client
import importlib.util
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from common import fixtures, setup_django
from shaped_dataset import build

# bench/api.py starts gunicorn; loaded by its path, as the project's own `api` package (on the
# path common.py sets) takes the name first.
_spec = importlib.util.spec_from_file_location("bench_api", Path(__file__).with_name("api.py"))
bench_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_api)

RUNS = 5


def searches(fx) -> list[tuple[str, dict]]:
    """(label, query) for every search field (every status), every sort, pages, combinations."""
    import django_filters
    from django.utils import timezone

    from billing.models import Account
    from resellers.models import Reseller
    from topup.filters import CardFilter, SerialRangeFilter
    from topup.selectors import cards_visible_to

    form = CardFilter(None, queryset=cards_visible_to(fx["operator"]), user=fx["operator"]).form
    today = timezone.localdate()
    north = Reseller.objects.get(name="Bench north")
    account = Account.objects.filter(activated_cards__isnull=False).order_by("pk").first()
    values = {
        "series": [("an old one, S02", "S02"), ("the newest, S10 (in stock)", "S10")],
        "series_label": [("an old one's label", "Print run S02")],
        "number": [("prefix S03-0001", "S03-0001")],
        "serials": [
            ("S03, 1,000 cards", {"serials_min": "S03-00010001", "serials_max": "S03-00011000"})
        ],  # fmt: skip
        "reseller": [
            ("north with its subtree", north.pk),
            ("east", Reseller.objects.get(name="Bench east").pk),
        ],  # fmt: skip
        "amount_min": [("from 50", "50")],
        "amount_max": [("up to 10", "10")],
        "currency": [("EUR", "EUR")],
        "created": [("last 45 days", (today - timedelta(days=45), today))],
        "expires": [("next 400 days", (today, today + timedelta(days=400)))],
        "activated": [("last 7 days", (today - timedelta(days=7), today))],
        "activated_by": [("one account", account.pk)],
    }
    cases = [("no search", {})]
    for name, field in CardFilter.base_filters.items():
        if isinstance(field, django_filters.OrderingFilter):
            for key in field.param_map:
                cases += [(f"sorted by {key}", {"sort": key}),
                          (f"sorted by {key} descending", {"sort": f"-{key}"})]  # fmt: skip
        elif isinstance(field, django_filters.ChoiceFilter) and not isinstance(
            field, django_filters.ModelChoiceFilter
        ):
            choices = [value for value, _ in form.fields[name].choices if value]
            cases += [(f"{name} = {value}", {name: value}) for value in choices]
        else:
            if name not in values:
                sys.exit(f"add a benchmark value for the search field {name!r}")
            for label, value in values[name]:
                if isinstance(field, django_filters.DateFromToRangeFilter):
                    query = {f"{name}_after": str(value[0]), f"{name}_before": str(value[1])}
                elif isinstance(field, SerialRangeFilter):
                    query = value
                else:
                    query = {name: value}
                cases.append((f"{name}: {label}", query))
    cases += [
        ("amount 10-20 + expiry next 400 days", {"amount_min": "10", "amount_max": "20",
            "expires_after": str(today), "expires_before": str(today + timedelta(days=400))}),
        ("status = new + reseller north", {"status": "new", "reseller": north.pk}),
        ("status = new sorted by amount descending", {"status": "new", "sort": "-amount"}),
        ("series S02 sorted by expiry", {"series": "S02", "sort": "expires"}),
        ("page 2", {"page": 2}),
        ("page 2,000", {"page": 2000}),
        ("status = new, page 200", {"status": "new", "page": 200}),
    ]  # fmt: skip
    return [(f"list, {label}", query) for label, query in cases]


def plan_indexes(user, query: dict) -> str:
    """The indexes the card list's page query walks for this search (EXPLAIN, not run)."""
    from django.db import connection
    from django.http import QueryDict

    from topup.card_list_plan import plan_page
    from topup.filters import CardFilter
    from topup.selectors import cards_visible_to

    data = QueryDict(mutable=True)
    data.update({k: str(v) for k, v in query.items() if k not in ("page", "after")})
    filterset = CardFilter(data or None, queryset=cards_visible_to(user), user=user)
    plan = plan_page(filterset, filterset.qs)
    sql, params = plan.ids_sql(0, 50)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        tree = cursor.fetchone()[0][0]["Plan"]
    names = []

    def walk(node):
        if "Index Name" in node and node["Index Name"] not in names:
            names.append(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(tree)
    how = "sort of <= 10,000" if plan.bounded else ("merged walks" if plan.split else "walk")
    return f"{how}: {', '.join(names) or '-'}" + (" (notice)" if plan.notice else "")


def other_pages(fx) -> list[tuple[str, str]]:
    from topup.models import Card

    card = Card.objects.filter(status="activated").order_by("pk").first()
    return [
        ("series overview", "/series/"),
        ("liability report", "/reports/liability/"),
        ("home page", "/dashboard/"),
        ("card history (an activated card)", f"/cards/{card.pk}/"),
    ]


class Browser:
    """One signed-in operator on one kept-alive connection."""

    def __init__(self, port: int, session: str):
        self.port, self.cookie = port, f"sessionid={session}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> float:
        began = time.perf_counter()
        self.conn.request("GET", path, headers={"Cookie": self.cookie, "Host": "127.0.0.1"})
        response = self.conn.getresponse()
        body = response.read()
        took = time.perf_counter() - began
        if response.status != 200:
            raise SystemExit(f"{path}: HTTP {response.status}\n{body[:500]!r}")
        return took


def run(cards: int, database: str) -> dict:
    from django.conf import settings
    from django.test import Client

    build(cards)
    fx = fixtures()
    client = Client()
    client.force_login(fx["operator"])
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    port = bench_api._free_port()
    server = bench_api.start_gunicorn(port)
    results = {}
    try:
        browser = Browser(port, session)
        pages = [(label, "/cards/?" + urlencode(query), query) for label, query in searches(fx)]
        pages += [(label, path, None) for label, path in other_pages(fx)]
        for label, path, query in pages:
            browser.get(path)  # warm
            median = statistics.median(browser.get(path) for _ in range(RUNS))
            plan = plan_indexes(fx["operator"], query) if query is not None else ""
            results[label] = {"ms": median * 1000, "plan": plan, "path": path}
            print(f"{label:<55} {median * 1000:8.1f} ms  {plan}", flush=True)
    finally:
        server.terminate()
        server.wait()
    with open("/proc/loadavg") as load:
        results["_load"] = load.read().strip()
    results["_cards"] = cards
    Path(f"/tmp/card-pages-{database}.json").write_text(json.dumps(results, indent=1))
    return results


def interleaved(small_db: str, large_db: str) -> dict:
    """Both data sets at once: a gunicorn for each, every page fetched from one then the
    other, 5 pairs, so a change in the machine's load falls on both sides alike.

    Django is set up on the larger database (its plans are reported); the operator's session
    is copied to the smaller one (the data sets are built alike, so ids of resellers, users
    and accounts agree; the card history's card is looked up in each).
    """
    import psycopg2
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    fx = fixtures()
    client = Client()
    client.force_login(fx["operator"])
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    large_url = os.environ["DATABASE_URL"]
    small_url = large_url.rsplit("/", 1)[0] + f"/{small_db}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT session_data, expire_date FROM django_session WHERE session_key = %s",
            [session],
        )
        data, expires = cursor.fetchone()
    small = psycopg2.connect(small_url)
    with small, small.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_session VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [session, data, expires],
        )
        cursor.execute("SELECT min(id) FROM topup_card WHERE status = 'activated'")
        small_card = cursor.fetchone()[0]
    servers, browsers = [], {}
    try:
        for name, url in (("small", small_url), ("large", large_url)):
            os.environ["DATABASE_URL"] = url
            port = bench_api._free_port()
            servers.append(bench_api.start_gunicorn(port))
            browsers[name] = Browser(port, session)
        os.environ["DATABASE_URL"] = large_url
        pages = [(label, "/cards/?" + urlencode(query), query) for label, query in searches(fx)]
        pages += [(label, path, None) for label, path in other_pages(fx)]
        results = {"small": {}, "large": {}}
        for label, path, query in pages:
            paths = {"small": path, "large": path}
            if path.startswith("/cards/") and path.endswith("/") and path[7:-1].isdigit():
                paths["small"] = f"/cards/{small_card}/"
            times = {"small": [], "large": []}
            for side in ("small", "large"):
                browsers[side].get(paths[side])  # warm
            for _ in range(RUNS):
                for side in ("small", "large"):
                    times[side].append(browsers[side].get(paths[side]))
            plan = plan_indexes(fx["operator"], query) if query is not None else ""
            for side in ("small", "large"):
                results[side][label] = {
                    "ms": statistics.median(times[side]) * 1000, "plan": plan, "path": path,
                }  # fmt: skip
            print(f"{label:<55} {results['small'][label]['ms']:7.1f} "
                  f"{results['large'][label]['ms']:7.1f} ms  {plan}", flush=True)  # fmt: skip
    finally:
        for server in servers:
            server.terminate()
            server.wait()
    with open("/proc/loadavg") as load:
        results["small"]["_load"] = results["large"]["_load"] = load.read().strip()
    return results


def compare(small: dict, large: dict) -> None:
    print(
        f"\n| page | {small['_cards']:,} ms | {large['_cards']:,} ms | ratio | plan at the larger |"
    )
    print("|---|---|---|---|---|")
    for label, row in large.items():
        if label.startswith("_") or label not in small:
            continue
        ratio = row["ms"] / small[label]["ms"]
        ok = row["ms"] <= 100 and ratio <= 1.5
        print(f"| {label} | {small[label]['ms']:.1f} | {row['ms']:.1f} | {ratio:.2f}"
              f"{'' if ok else ' **'} | {row['plan']} |")  # fmt: skip
    print(f"\nload average: {small['_load']} (smaller), {large['_load']} (larger)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--database", default="topup_bench")
    parser.add_argument("--compare", help="an earlier run's JSON (the smaller data set)")
    parser.add_argument(
        "--interleave", metavar="SMALLER_DATABASE",
        help="measure this (already built) smaller data set alongside, page by page",
    )  # fmt: skip
    args = parser.parse_args()
    os.environ.setdefault("OTP_REQUIRED_FOR_CARD_SECRETS", "false")
    setup_django(args.database)
    if args.interleave:
        build(args.cards)
        with open("/proc/loadavg") as load:
            print(f"load average before: {load.read().strip()}", flush=True)
        results = interleaved(args.interleave, args.database)
        results["small"]["_cards"], results["large"]["_cards"] = args.cards // 10, args.cards
        Path("/tmp/card-pages-interleaved.json").write_text(json.dumps(results, indent=1))
        compare(results["small"], results["large"])
        return
    results = run(args.cards, args.database)
    if args.compare:
        compare(json.loads(Path(args.compare).read_text()), results)


if __name__ == "__main__":
    main()
