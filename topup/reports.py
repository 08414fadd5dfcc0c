"""The liability report and the operator's home page figures: reads, scoped to the user.

Every figure comes from the card summary (kept exact by triggers) plus the counts of cards the
retention command purged (`PurgedCards`), and the redemptions per day and of today from the
redemptions per hour (`RedemptionHour`), both kept exact by triggers: never from a scan of the
cards.

Definitions, by month (UTC) and by the reseller that owns the cards, per currency (values are
face values, never converted between currencies):

- issued: cards generated in the month and released for sale (cards still in stock are not
  sold: they are neither issued nor outstanding until released);
- redeemed: cards activated in the month;
- expired unredeemed (breakage): new cards whose expiry date fell in the month and has passed;
- blocked / void: cards blocked or voided now, counted in the month they were issued (the
  summary keeps the state, not the day it changed);
- outstanding at month end: new cards issued by then, neither expired by then nor redeemed by
  then, and not blocked or void: what the operator owes customers. The current month's figure
  is as of now.

Figures follow the cards' current state: a mass edit that extends an expiry date moves those
cards out of "expired" and back into "outstanding" for every month since.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import F, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from resellers.models import Reseller
from resellers.scoping import reseller_ids_visible_to

from .models import STATUS_CONDITIONS, Card, CardSummary, PurgedCards, RedemptionHour, Series

ZERO = Decimal("0.00")
FIGURES = ("issued", "redeemed", "expired", "blocked_void", "outstanding")
FIGURE_LABELS = {
    "issued": _("Issued"),
    "redeemed": _("Redeemed"),
    "expired": _("Expired unredeemed"),
    "blocked_void": _("Blocked / void"),
    "outstanding": _("Outstanding at month end"),
}
# The liability CSV's header: a person reads it (an accountant), so it is in their language;
# the cells stay plain (YYYY-MM months, ISO codes, decimals with a point) for a spreadsheet.
CSV_COLUMNS = {
    "month": _("month"),
    "reseller": _("reseller"),
    "currency": _("currency"),
    "issued": _("issued"),
    "redeemed": _("redeemed"),
    "expired_unredeemed": _("expired unredeemed"),
    "blocked_void": _("blocked / void"),
    "outstanding_month_end": _("outstanding at month end"),
}


def liability_csv_header() -> list[str]:
    """The liability CSV's header row, in the user's language (said now: rows stream later)."""
    return [str(heading) for heading in CSV_COLUMNS.values()]


BLOCKED_OR_VOID = ("blocked", "void")
IN_STOCK = "in_stock"  # generated but not released for sale: not issued, owed nothing
GROUP_FIELDS = ("reseller_id", "currency", "status", "amount", "expires_at",
                "created_month", "activated_month")  # fmt: skip


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_back(last: date, count: int) -> list[date]:
    """`count` months ending with `last` (a first of the month), oldest first."""
    months = [last]
    for _month in range(count - 1):
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months[::-1]


def card_groups(user, *, reseller: Reseller | None = None) -> list[dict]:
    """The user's cards by key, from the summary and the purged counts together."""
    ids = reseller_ids_visible_to(user)
    if reseller is not None:
        subtree = set(Reseller.objects.subtree_of(reseller).values_list("pk", flat=True))
        ids = [pk for pk in ids if pk in subtree]
    rows = []
    for model in (CardSummary, PurgedCards):
        rows += list(
            model.objects.filter(reseller_id__in=ids)
            .order_by()
            .values(*GROUP_FIELDS)
            .annotate(n=Sum("cards"))
            .exclude(n=0)
        )
    return rows


@dataclass
class LiabilityRow:
    month: date
    currency: str
    reseller: Reseller | None = None  # None: every reseller of the report
    figures: dict = field(default_factory=lambda: dict.fromkeys(FIGURES, ZERO))

    def __getattr__(self, name):  # row.issued etc. in templates
        if name in FIGURES:
            return self.figures[name]
        raise AttributeError(name)


@dataclass
class LiabilityReport:
    months: list[date]
    totals: list[LiabilityRow]  # by month and currency
    by_reseller: list[LiabilityRow]  # by month, reseller and currency
    now: datetime

    def currencies(self) -> list[str]:
        return sorted({row.currency for row in self.totals})

    def outstanding_series(self) -> dict[str, list[tuple[date, Decimal]]]:
        series = defaultdict(list)
        for row in self.totals:
            series[row.currency].append((row.month, row.outstanding))
        return dict(series)


def _figures_of(group: dict, month: date, now: datetime) -> dict:
    """What one group of identical cards contributes to one month's figures."""
    value = group["n"] * group["amount"]
    status, created = group["status"], group["created_month"]
    expires, activated = group["expires_at"], group["activated_month"]
    month_end = datetime.combine(next_month(month), datetime.min.time(), tzinfo=UTC)
    figures = {}
    if created == month and status != IN_STOCK:
        figures["issued"] = value
        if status in BLOCKED_OR_VOID:
            figures["blocked_void"] = value
    if status == Card.Status.ACTIVATED and activated == month:
        figures["redeemed"] = value
    if (
        status == Card.Status.NEW
        and expires is not None
        and expires <= now
        and month_start(expires.astimezone(UTC).date()) == month
    ):
        figures["expired"] = value
    if created <= month and (
        (status == Card.Status.NEW and (expires is None or expires > min(month_end, now)))
        or (status == Card.Status.ACTIVATED and activated > month)
    ):
        figures["outstanding"] = value
    return figures


def liability_report(
    user, *, months: int = 12, reseller: Reseller | None = None, now: datetime | None = None
) -> LiabilityReport:
    """The last `months` months (this one included) of the user's subtree, or `reseller`'s."""
    now = now or timezone.now()
    span = months_back(month_start(now.astimezone(UTC).date()), months)
    totals: dict[tuple, LiabilityRow] = {}
    by_reseller: dict[tuple, LiabilityRow] = {}
    groups = card_groups(user, reseller=reseller)
    names = Reseller.objects.in_bulk({g["reseller_id"] for g in groups})
    for group in groups:
        for month in span:
            figures = _figures_of(group, month, now)
            if not figures:
                continue
            currency, owner = group["currency"], names.get(group["reseller_id"])
            total = totals.setdefault((month, currency), LiabilityRow(month, currency))
            row = by_reseller.setdefault(
                (month, owner.name if owner else "", group["reseller_id"], currency),
                LiabilityRow(month, currency, owner),
            )
            for name, value in figures.items():
                total.figures[name] += value
                row.figures[name] += value
    # Months before the first card are left out; from then on every month shows in every
    # currency the report has, even a quiet one.
    if totals:
        span = [month for month in span if month >= min(month for month, _ in totals)]
    for currency in {currency for _month, currency in totals}:
        for month in span:
            totals.setdefault((month, currency), LiabilityRow(month, currency))
    return LiabilityReport(
        months=span,
        totals=[totals[key] for key in sorted(totals)],
        by_reseller=[by_reseller[key] for key in sorted(by_reseller)],
        now=now,
    )


def redemptions_per_day(user, *, days: int = 30, now: datetime | None = None) -> dict:
    """{currency: [(day, cards, value), ...]} for the last `days` days, every day listed."""
    now = now or timezone.now()
    first = (now - timedelta(days=days - 1)).astimezone(UTC).date()
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    rows = (
        RedemptionHour.objects.visible_to(user)
        .filter(hour__gte=start)
        .annotate(day=TruncDate("hour", tzinfo=UTC))
        .order_by()
        .values("day", "currency")
        .annotate(cards=Sum("cards"), value=Sum("value"))
        .exclude(cards=0, value=0)
    )
    found = {(row["day"], row["currency"]): (row["cards"], row["value"]) for row in rows}
    result = {}
    for currency in sorted({currency for _day, currency in found}):
        result[currency] = [
            (day, *found.get((day, currency), (0, ZERO)))
            for day in (first + timedelta(days=i) for i in range(days))
        ]
    return result


@dataclass
class HomeFigures:
    redeemed_today: list[tuple[str, int, Decimal]]  # currency, cards, value
    outstanding: list[tuple[str, int, Decimal]]
    expiring_series: list[Series]


def home_figures(user, *, now: datetime | None = None, series_count: int = 5) -> HomeFigures:
    """Today's redemptions, outstanding value by currency, the series closest to expiry."""
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    redeemed = (
        RedemptionHour.objects.visible_to(user)
        .filter(hour__gte=today)
        .order_by()
        .values("currency")
        .annotate(cards=Sum("cards"), value=Sum("value"))
        .exclude(cards=0)
        .order_by("currency")
    )
    outstanding = (
        CardSummary.objects.visible_to(user)
        .filter(STATUS_CONDITIONS["new"])
        .order_by()
        .values("currency")
        .annotate(n=Sum("cards"), value=Sum(F("cards") * F("amount")))
        .exclude(n=0)
        .order_by("currency")
    )
    soonest = (
        CardSummary.objects.visible_to(user)
        .filter(STATUS_CONDITIONS["new"], expires_at__isnull=False)
        .order_by()
        .values("series_id")
        .annotate(live=Sum("cards"), value=Sum(F("cards") * F("amount")), expires=Min("expires_at"))
        .exclude(live=0)
        .order_by("expires", "series_id")[:series_count]
    )
    soonest = list(soonest)
    series = Series.objects.select_related("reseller").in_bulk(
        [row["series_id"] for row in soonest]
    )
    expiring = []
    for row in soonest:
        if s := series.get(row["series_id"]):
            s.live_cards, s.live_value, s.next_expiry = row["live"], row["value"], row["expires"]
            expiring.append(s)
    return HomeFigures(
        redeemed_today=[(r["currency"], r["cards"], r["value"]) for r in redeemed],
        outstanding=[(r["currency"], r["n"], r["value"]) for r in outstanding],
        expiring_series=expiring,
    )
