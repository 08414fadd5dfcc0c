"""The card list's page query: which index walk finds a page's ids, for every search and sort.

A page must cost what a page costs, whatever the number of cards. So:

- every sort the list offers (but the reseller's name) has an index in its exact order,
  tie-broken by id in the same direction, so reversing a sort walks the same index backwards
  (`SORTS`; the indexes are on `Card.Meta.indexes`). Expiry puts "no expiry" after every date,
  activation puts "not activated" before every date: each the order its index holds;
- each search field has an index that reaches its matches without reading others (a *driver*:
  status, series, serial number, reseller, dates, amount, activated by). When a driver's index
  is already in the requested order, the page is that walk: it stops after the page's rows;
- otherwise the matches are counted up to `SORT_LIMIT` through the driver's index; that many
  are sorted as asked (a sort of at most `SORT_LIMIT` rows). More than that are listed in the
  driver's own order and the page says so, naming the narrower search that would allow it.

A subtree of several resellers is walked one reseller at a time (each walk stops after the
page) and merged: PostgreSQL cannot walk an index in order for a list of values.
Currency has no index of its own: cards of one currency are walked in the list's order and
the others skipped, fast while they are not rare among the newest cards.
"""

from dataclasses import dataclass

from django.db import connections
from django.db.models import F, QuerySet, Sum
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.models import as_money
from locales.formats import number
from resellers.models import Reseller
from resellers.scoping import reseller_ids_visible_to

from .filters import _given
from .models import STATUS_CONDITIONS, Card, RedemptionHour
from .selectors import card_totals

SORT_LIMIT = 10_000
MAX_SPLIT = 20  # resellers of a subtree walked one by one; more are walked together

# Sort key -> ((field, direction, nulls), ...); "" is the list's own order.
SORTS = {
    "": (("created_at", "desc", None), ("id", "desc", None)),
    "-created": (("created_at", "desc", None), ("id", "desc", None)),
    "created": (("created_at", "asc", None), ("id", "asc", None)),
    "status": (("status", "asc", None), ("created_at", "desc", None), ("id", "desc", None)),
    "-status": (("status", "desc", None), ("created_at", "asc", None), ("id", "asc", None)),
    "number": (("number", "pattern_asc", None),),
    "-number": (("number", "pattern_desc", None),),
    "amount": (("amount", "asc", None), ("id", "asc", None)),
    "-amount": (("amount", "desc", None), ("id", "desc", None)),
    "expires": (("expires_at", "asc", "last"), ("id", "asc", None)),
    "-expires": (("expires_at", "desc", "first"), ("id", "desc", None)),
    "activated": (("activated_at", "asc", "first"), ("id", "asc", None)),
    "-activated": (("activated_at", "desc", "last"), ("id", "desc", None)),
    # No index: a reseller's name is in another table. Sorted only within SORT_LIMIT matches.
    "reseller": (("reseller__name", "asc", None), ("id", "asc", None)),
    "-reseller": (("reseller__name", "desc", None), ("id", "desc", None)),
}
UNINDEXED = {"reseller", "-reseller"}
SORT_NAMES = {
    "": _("creation date"),
    "created": _("creation date"),
    "status": _("status"),
    "number": _("serial number"),
    "amount": _("amount"),
    "expires": _("expiry date"),
    "activated": _("activation date"),
    "reseller": _("reseller"),
}
LIST_ORDER = {"", "created"}


def order_by(sort: str) -> list:
    """The ORM ordering of a sort key (serial numbers: see `_pattern_order`)."""
    expressions = []
    for name, direction, nulls in SORTS[sort]:
        if direction.startswith("pattern"):
            direction = direction.removeprefix("pattern_")
        ordering = getattr(F(name), direction)
        expressions.append(ordering(**({f"nulls_{nulls}": True} if nulls else {})))
    return expressions


NUMBER = f'"{Card._meta.db_table}"."number"'


def _pattern_order(sql: str, sort: str) -> str:
    """Serial numbers in the order of their unique index, which uses the pattern operators
    (it also serves prefix search): `ORDER BY number USING ~<~`. The ORM has no spelling for
    it, so the one ORDER BY term is rewritten."""
    if not any(direction.startswith("pattern") for _, direction, _ in SORTS[sort]):
        return sql
    for plain, pattern in ((f"{NUMBER} ASC", f"{NUMBER} USING ~<~"),
                           (f"{NUMBER} DESC", f"{NUMBER} USING ~>~")):  # fmt: skip
        if f"ORDER BY {plain}" in sql:
            return sql.replace(f"ORDER BY {plain}", f"ORDER BY {pattern}")
    raise AssertionError(f"no serial number order in {sql}")


@dataclass(frozen=True)
class Driver:
    """A search field whose index reaches its matches, and the sorts that index walks in."""

    name: str
    serves: frozenset
    natural: str
    split: tuple[str, list] | None = None  # one walk per value of this column, merged


def _base(sort: str) -> str:
    return sort.lstrip("-") if sort.lstrip("-") in ("created", "") else sort


def drivers(data: dict) -> list[Driver]:
    """The searched fields that have an index of their own, most selective first."""
    both = lambda key: frozenset({key, f"-{key}"})  # noqa: E731 - one index, both directions
    listed = frozenset(LIST_ORDER)
    found = []
    if _given(data.get("number")) or _given(data.get("serials")):
        found.append(Driver("number", both("number"), "number"))
    if _given(data.get("series")) or _given(data.get("series_label")):  # both: series keys
        found.append(Driver("series", listed, ""))
    if _given(data.get("activated_by")):
        found.append(Driver("activated_by", both("activated"), "-activated"))
    if status := data.get("status"):
        if status == "expired":
            found.append(Driver("status", both("expires"), "-expires"))
        else:
            found.append(Driver("status", listed | both("status"), ""))
    if _given(data.get("reseller")):
        found.append(Driver("reseller", listed, ""))
    if _given(data.get("activated")):
        found.append(Driver("activated", both("activated"), "-activated"))
    if _given(data.get("expires")):
        found.append(Driver("expires", both("expires"), "expires"))
    if _given(data.get("amount_min")) or _given(data.get("amount_max")):
        found.append(Driver("amount", both("amount"), "amount"))
    if _given(data.get("created")):
        found.append(Driver("created", listed, ""))
    if _given(data.get("currency")):
        found.append(Driver("currency", listed, ""))
    return found


@dataclass
class PagePlan:
    """How the page's ids are found: an ordered index walk, or a sort of a bounded set."""

    cards: QuerySet  # the search (in the user's scope), unordered
    sort: str  # the order the page is listed in (a SORTS key)
    bounded: bool = False  # sort at most SORT_LIMIT matches
    split: tuple[str, list] | None = None
    notice: str = ""  # said on the page when the order asked for could not be used
    matched: int | None = None  # matches counted up to SORT_LIMIT + 1, when counted

    @property
    def keyset(self) -> bool:
        """Whether "Next" may continue from a row's key: a single walk in the list's order."""
        return self.sort == "" and not self.bounded and self.split is None

    @property
    def ordered(self) -> QuerySet:
        """The search in the page's order (what "Next" continues from, on keyset pages)."""
        ordering = ["-created_at", "-pk"] if self.sort == "" else order_by(self.sort)
        return self.cards.order_by(*ordering)

    def ids_sql(self, offset: int, limit: int) -> tuple[str, list]:
        """The statement that reads the ids of rows offset .. offset + limit."""
        if self.bounded:
            return self._bounded_sql(offset, limit)
        ordered = self.cards.order_by(*order_by(self.sort))
        if self.split is None:
            page = ordered.values_list("pk", flat=True)[offset : offset + limit]
            sql, params = page.query.sql_with_params()
            return _pattern_order(sql, self.sort), params
        column, values = self.split
        keys = ["id", *(name for name, _, _ in SORTS[self.sort] if name != "id")]
        parts = [
            ordered.filter(**{column: value}).values_list(*keys)[: offset + limit]
            for value in values
        ]
        merged = parts[0].union(*parts[1:], all=True).order_by(*order_by(self.sort))
        return merged[offset : offset + limit].query.sql_with_params()

    def _bounded_sql(self, offset: int, limit: int) -> tuple[str, list]:
        keys = [name for name, _, _ in SORTS[self.sort]]
        inner = self.cards.order_by().values_list("pk", *[k for k in keys if k != "id"])
        sql, params = inner[: SORT_LIMIT + 1].query.sql_with_params()
        columns = ["pk", *[k for k in keys if k != "id"]]
        terms = []
        for name, direction, nulls in SORTS[self.sort]:
            position = 1 if name == "id" else columns.index(name) + 1
            if direction.startswith("pattern"):
                terms.append(f"{position} USING {'~>~' if direction.endswith('desc') else '~<~'}")
            else:
                terms.append(
                    f"{position} {direction.upper()}{f' NULLS {nulls.upper()}' if nulls else ''}"
                )
        return (
            f"SELECT bounded.* FROM ({sql}) AS bounded ORDER BY {', '.join(terms)}"
            " LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )

    def ids(self, offset: int, limit: int) -> list[int]:
        sql, params = self.ids_sql(offset, limit)
        # The database the search's own reads go to (a replica on the heavy pages).
        with connections[self.cards.db].cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]


def count_upto(cards: QuerySet, limit: int = SORT_LIMIT) -> int:
    """How many cards match, counted up to limit + 1 (more than `limit` is all it says)."""
    return cards.order_by()[: limit + 1].count()


def plan_page(filterset, cards: QuerySet, *, count: int | None = None) -> PagePlan:
    """The page query for a search (`cards`, the filtered search) and its requested sort.

    `count`, when the summary already knows how many cards match, saves counting them.
    """
    data = filterset.form.cleaned_data if filterset.is_bound and filterset.is_valid() else {}
    requested = (data.get("sort") or [""])[0]
    if requested == "-created":
        requested = ""
    cards = cards.order_by()
    found = drivers(data)
    for driver in found:
        if requested in driver.serves:
            return _walk(driver, data, requested, cards)
    if not found and requested in ("status", "-status"):
        # One walk per stored status (its own index), merged: bounded by the page.
        return PagePlan(cards, requested, split=("status", list(Card.Status.values)))
    if not found and requested not in UNINDEXED:
        return PagePlan(cards, requested)
    matched = count_upto(cards) if count is None else min(count, SORT_LIMIT + 1)
    if matched <= SORT_LIMIT:
        return PagePlan(cards, requested, bounded=True, matched=matched)
    fallback = found[0].natural if found else ""
    wanted, listed = SORT_NAMES[requested.lstrip("-")], SORT_NAMES[fallback.lstrip("-")]
    notice = gettext(
        "More than %(most)s cards match: too many to sort by %(wanted)s at once, so they are "
        "listed by %(listed)s. Narrow the search (a series, a serial range or a single "
        "reseller) to sort them by %(wanted)s."
    ) % {"most": number(SORT_LIMIT), "wanted": wanted, "listed": listed}
    if not found:
        return PagePlan(cards, fallback, notice=notice, matched=matched)
    plan = _walk(found[0], data, fallback, cards)
    plan.notice, plan.matched = notice, matched
    return plan


def _walk(driver: Driver, data: dict, sort: str, cards) -> PagePlan:
    return PagePlan(cards, sort, split=_split(driver, data, sort, cards))


def _split(driver: Driver, data: dict, sort: str, cards) -> tuple[str, list] | None:
    """One walk per reseller of a small subtree (each ordered by its own index), or None."""
    if driver.name != "reseller" or sort not in LIST_ORDER:
        return None
    subtree = list(Reseller.objects.subtree_of(data["reseller"]).values_list("pk", flat=True))
    if not 1 < len(subtree) <= MAX_SPLIT:
        return None
    return "reseller_id", subtree


# Searches the redemptions per hour answer: cards activated in a date range (of a subtree, in
# a currency). Every activated card has its date, so they are exactly the range's cards.
HOUR_FILTERS = {"activated", "reseller", "currency", "status"}


def hour_totals(filterset, user) -> dict | None:
    """Totals of an activation-date search from the redemptions per hour, or None."""
    data = filterset.form.cleaned_data if filterset.is_bound and filterset.is_valid() else {}
    given = {name for name, value in data.items() if name != "sort" and _given(value)}
    if "activated" not in given or not given <= HOUR_FILTERS:
        return None
    if data.get("status") not in (None, "", "activated"):
        return None
    rows = RedemptionHour.objects.filter(reseller_id__in=reseller_ids_visible_to(user))
    if data.get("reseller"):
        subtree = Reseller.objects.subtree_of(data["reseller"]).values_list("pk", flat=True)
        rows = rows.filter(reseller_id__in=list(subtree))
    if data.get("currency"):
        rows = rows.filter(currency=data["currency"].strip().upper())
    period = data["activated"]
    # The range's ends are midnights of the user's time zone: whole hours.
    if period.start is not None:
        rows = rows.filter(hour__gte=period.start)
    if period.stop is not None:
        rows = rows.filter(hour__lte=period.stop)
    values = [
        (row["currency"], as_money(row["value"]), row["cards"])
        for row in rows.order_by()
        .values("currency")
        .annotate(cards=Sum("cards"), value=Sum("value"))
        .exclude(cards=0)
        .order_by("currency")
    ]
    count = sum(n for _, _, n in values)
    return {
        "count": count,
        "more_than": None,
        "by_status": [
            (status, count, [(c, v) for c, v, _ in values]) if status == "activated" else
            (status, 0, [])
            for status in STATUS_CONDITIONS
        ],
    }  # fmt: skip


def bounded_totals(cards: QuerySet, plan: PagePlan) -> dict:
    """Totals of a search the summary cannot answer, counted from at most SORT_LIMIT cards.

    When more match, {"count": SORT_LIMIT + 1, "more_than": SORT_LIMIT, "by_status": []}:
    the page says "more than 10,000" rather than reading them all.
    """
    matched = plan.matched if plan.matched is not None else count_upto(cards)
    if matched <= SORT_LIMIT:
        return {**card_totals(cards), "more_than": None}
    return {"count": matched, "more_than": SORT_LIMIT, "by_status": []}
