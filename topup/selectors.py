"""Reads of cards, series and their summary: selections, totals, reconciliation. Who may see
what is each model's `visible_to(user)`; the reads here for a user start from it."""

from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.models import as_money
from locales.formats import money, number

from .fields import MAX_TICKED_CARDS
from .filters import CardFilter  # a search selection follows the card list's rules
from .models import (
    STATUS_CONDITIONS,
    Card,
    CardSummary,
    Series,
)


def cards_visible_to(user) -> QuerySet[Card]:
    """The scope tests' name for `Card.objects.visible_to`; the app calls that."""
    return Card.objects.visible_to(user)


def cards_for_selection(user, selection: dict) -> QuerySet[Card]:
    """The cards a bulk action's selection names, for this user, as of now.

    `selection` is {"search": the card list's query string} or {"cards": [ids ticked]}; the
    same dict is kept on a background job, which replays it chunk by chunk. Raises
    ValidationError with a message for the user when the selection is unusable.
    """
    cards = Card.objects.visible_to(user)
    if "cards" in selection:
        ids = selection["cards"]
        if not ids:
            raise ValidationError(
                _("Tick at least one card, or choose all cards of the search."), code="none"
            )
        if len(ids) > MAX_TICKED_CARDS or not all(isinstance(pk, int) for pk in ids):
            raise ValidationError(_("The ticked cards are not valid."), code="invalid")
        return cards.filter(pk__in=ids)
    filterset = CardFilter(
        QueryDict(selection.get("search", "")) or None, queryset=cards, user=user
    )
    if filterset.is_bound and not filterset.is_valid():
        raise ValidationError(
            _("The search has errors; correct it on the card list first."), code="invalid"
        )
    return filterset.qs


def card_totals(cards: QuerySet[Card]) -> dict:
    """Counts by displayed status, and their value per currency, counted from the cards.

    A scan of every matching card: for searches the summary cannot answer.
    """
    return _totals(cards, count=Count("pk"), value=Sum("amount"))


def summary_totals(rows: QuerySet[CardSummary]) -> dict:
    """The same totals as `card_totals`, from the summary rows of a search: constant time.

    `rows` of the result says how many delta rows were summed (see `summary_compact`).
    """
    return _totals(
        rows, count=Sum("cards"), value=Sum(F("cards") * F("amount")), row_count=Count("pk")
    )


def _totals(queryset, *, count, value, row_count=None) -> dict:
    """Counts and values by displayed status, per currency, in one grouped query.

    Returns {"count": n, "new_count": n, "new_values": [("USD", Decimal), ...], ...,
    "by_status": [(status, count, values), ...]}.
    """
    aggregates = {"rows": row_count} if row_count is not None else {}
    for status, condition in STATUS_CONDITIONS.items():
        aggregates[f"{status}_count"] = Coalesce(
            _only(count, condition), 0, output_field=BigIntegerField()
        )
        aggregates[f"{status}_value"] = _only(value, condition)
    rows = list(queryset.order_by().values("currency").annotate(**aggregates).order_by("currency"))
    totals = {"rows": sum(row.get("rows", 0) for row in rows)}
    for status in STATUS_CONDITIONS:
        totals[f"{status}_count"] = sum(row[f"{status}_count"] for row in rows)
        totals[f"{status}_values"] = [
            (row["currency"], as_money(row[f"{status}_value"]))
            for row in rows
            if row[f"{status}_count"]
        ]
    totals["count"] = sum(totals[f"{status}_count"] for status in STATUS_CONDITIONS)
    totals["by_status"] = [
        (status, totals[f"{status}_count"], totals[f"{status}_values"])
        for status in STATUS_CONDITIONS
    ]
    return totals


# The reconciliation's columns, in order: (displayed status, heading). Every card of a series
# is in exactly one; with the cards deleted (or moved outside the viewer's part of the tree)
# they add up to what the series generated.
# Headed by the statuses' own names, as the card list shows them.
RECONCILIATION_COLUMNS = list(Card.DISPLAY_STATUSES)


def selection_value(cards: QuerySet[Card], condition: Q) -> dict:
    """How many of `cards` satisfy `condition`, and their value per currency.

    {"count": n, "values": [("USD", Decimal), ...]}: what a bulk action would change, shown
    before it runs.
    """
    rows = (
        cards.filter(condition)
        .order_by()
        .values("currency")
        .annotate(count=Count("pk"), value=Sum("amount"))
        .order_by("currency")
    )
    rows = list(rows)
    return {
        "count": sum(row["count"] for row in rows),
        "values": [(row["currency"], as_money(row["value"])) for row in rows],
    }


def _only(aggregate, condition: Q):
    """A copy of `aggregate` over the rows matching `condition` only."""
    copy = aggregate.copy()
    copy.filter = condition
    return copy


def series_with_counts(user, series: list[Series]) -> list[Series]:
    """Give each series its counts by displayed status and its outstanding value.

    From the summary, so a page of the series overview costs the same at any number of cards.
    Counts only the cards the user may see (a series' cards can be moved to other resellers);
    outstanding is the face value of its new, unexpired cards: what the operator owes.
    `card_count` is every card of the series the user sees.
    """
    aggregates = {
        f"{status}_count": _only(Sum("cards"), condition)
        for status, condition in STATUS_CONDITIONS.items()
    }
    aggregates["card_count"] = Sum("cards")
    aggregates["outstanding"] = _only(Sum(F("cards") * F("amount")), STATUS_CONDITIONS["new"])
    rows = {
        row.pop("series_id"): row
        for row in CardSummary.objects.visible_to(user)
        .filter(series_id__in=[s.pk for s in series])
        .order_by()
        .values("series_id")
        .annotate(**aggregates)
    }
    for s in series:
        for name in aggregates:
            setattr(s, name, rows.get(s.pk, {}).get(name) or 0)
    return series


def reconciliation(series: Series) -> dict:
    """One series (through `series_with_counts`) reconciled, each figure as (count, value).

    "generated", each column of RECONCILIATION_COLUMNS, and "elsewhere": generated cards that
    are no longer there for the viewer (deleted, or moved outside their part of the tree).
    All cards of a series share its amount, so a value is count x amount (exact Decimal).
    """
    row = {"generated": (series.quantity, series.quantity * series.amount)}
    for key, _label in RECONCILIATION_COLUMNS:
        count = getattr(series, f"{key}_count")
        row[key] = (count, count * series.amount)
    elsewhere = series.quantity - series.card_count if series.state == Series.State.DONE else 0
    row["elsewhere"] = (elsewhere, elsewhere * series.amount)
    return row


def cards_per_reseller(reseller_ids: list[int]) -> dict[int, str]:
    """Cards by displayed status per reseller, as text for the Resellers section (summary)."""
    counts = {
        status: _only(Sum("cards"), condition) for status, condition in STATUS_CONDITIONS.items()
    }
    rows = (
        CardSummary.objects.filter(reseller_id__in=reseller_ids)
        .order_by()
        .values("reseller_id")
        .annotate(**counts)
    )
    labels = dict(Card.DISPLAY_STATUSES)
    return {
        row["reseller_id"]: " · ".join(
            gettext("%(status)s %(n)s")
            % {"status": str(labels.get(status, status)).lower(), "n": number(row[status])}
            for status in STATUS_CONDITIONS
            if row[status]
        )
        for row in rows
    }


def cards_total(reseller_ids: list[int]) -> str:
    total = CardSummary.objects.filter(reseller_id__in=reseller_ids).aggregate(n=Sum("cards"))
    return number(total["n"] or 0)


def _outstanding(reseller_ids: list[int], keys: list[str]):
    """The face value of new, unexpired cards, grouped by `keys` (summary)."""
    return (
        CardSummary.objects.filter(STATUS_CONDITIONS["new"], reseller_id__in=reseller_ids)
        .order_by()
        .values(*keys)
        .annotate(value=Sum(F("cards") * F("amount")))
        .exclude(value=0)
        .order_by(*keys)
    )


def outstanding_per_reseller(reseller_ids: list[int]) -> dict[int, str]:
    """What each reseller's new cards are worth (money owed to customers), per currency."""
    texts: dict[int, list[str]] = {}
    for row in _outstanding(reseller_ids, ["reseller_id", "currency"]):
        value = money(as_money(row["value"]), row["currency"])
        texts.setdefault(row["reseller_id"], []).append(value)
    return {pk: ", ".join(parts) for pk, parts in texts.items()}


def outstanding_total(reseller_ids: list[int]) -> str:
    rows = _outstanding(reseller_ids, ["currency"])
    return ", ".join(money(as_money(row["value"]), row["currency"]) for row in rows) or number(0)
