"""Reads that depend on who is asking. Every view reaches cards and series through here."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.http import QueryDict

from resellers.models import Reseller
from resellers.scoping import reseller_ids_visible_to

from .models import STATUS_CONDITIONS, Card, CardEventRange, RedemptionAttempt, Series


def cards_visible_to(user) -> QuerySet[Card]:
    if not user.is_authenticated:
        return Card.objects.none()
    return Card.objects.filter(reseller_id__in=reseller_ids_visible_to(user))


MAX_TICKED_CARDS = 10_000


def cards_for_selection(user, selection: dict) -> QuerySet[Card]:
    """The cards a bulk action's selection names, for this user, as of now.

    `selection` is {"search": the card list's query string} or {"cards": [ids ticked]}; the
    same dict is kept on a background job, which replays it chunk by chunk. Raises
    ValidationError with a message for the user when the selection is unusable.
    """
    from .filters import CardFilter  # the search form's rules are the card list's

    cards = cards_visible_to(user)
    if "cards" in selection:
        ids = selection["cards"]
        if not ids:
            raise ValidationError("Tick at least one card, or choose all cards of the search.")
        if len(ids) > MAX_TICKED_CARDS or not all(isinstance(pk, int) for pk in ids):
            raise ValidationError("The ticked cards are not valid.")
        return cards.filter(pk__in=ids)
    filterset = CardFilter(
        QueryDict(selection.get("search", "")) or None, queryset=cards, user=user
    )
    if filterset.is_bound and not filterset.is_valid():
        raise ValidationError("The search has errors; correct it on the card list first.")
    return filterset.qs


def series_visible_to(user) -> QuerySet[Series]:
    if not user.is_authenticated:
        return Series.objects.none()
    return Series.objects.filter(reseller_id__in=reseller_ids_visible_to(user))


def card_totals(cards: QuerySet[Card]) -> dict:
    """Counts by displayed status, and their value per currency, in one grouped query.

    Returns {"count": n, "new_count": n, "new_values": [("USD", Decimal), ...], ...}.
    """
    aggregates = {}
    for status, condition in STATUS_CONDITIONS.items():
        aggregates[f"{status}_count"] = Count("pk", filter=condition)
        aggregates[f"{status}_value"] = Sum("amount", filter=condition)
    rows = list(cards.order_by().values("currency").annotate(**aggregates).order_by("currency"))
    totals = {}
    for status in STATUS_CONDITIONS:
        totals[f"{status}_count"] = sum(row[f"{status}_count"] for row in rows)
        totals[f"{status}_values"] = [
            (row["currency"], row[f"{status}_value"]) for row in rows if row[f"{status}_count"]
        ]
    totals["count"] = sum(totals[f"{status}_count"] for status in STATUS_CONDITIONS)
    totals["by_status"] = [
        (status, totals[f"{status}_count"], totals[f"{status}_values"])
        for status in STATUS_CONDITIONS
    ]
    return totals


# What the reconciliation counts besides the displayed statuses: every card ever released
# (shipped), whatever happened to it afterwards.
RELEASED = Q(released_at__isnull=False)
# The reconciliation's columns, in order: (key, heading).
RECONCILIATION_COLUMNS = [
    ("in_stock", "In stock"),
    ("released", "Released"),
    ("new", "Released, not redeemed"),
    ("activated", "Redeemed"),
    ("expired", "Expired"),
    ("blocked", "Blocked"),
    ("void", "Void"),
]


def series_overview(user) -> QuerySet[Series]:
    """Each series with counts by status and its outstanding value (new cards, at face value).

    Counts only the cards the user may see (a series' cards can be moved to other resellers):
    `<status>_count` for every displayed status, `released_count` (ever released) and
    `card_count` (cards of the series that exist and are visible now).
    """
    visible = Q(cards__reseller_id__in=reseller_ids_visible_to(user))
    annotations = {
        f"{status}_count": Count("cards", filter=visible & _prefix(condition, "cards__"))
        for status, condition in STATUS_CONDITIONS.items()
    }
    annotations["released_count"] = Count("cards", filter=visible & _prefix(RELEASED, "cards__"))
    annotations["card_count"] = Count("cards", filter=visible)
    annotations["outstanding"] = Sum(
        "cards__amount", filter=visible & _prefix(STATUS_CONDITIONS["new"], "cards__")
    )
    return (
        series_visible_to(user)
        .select_related("reseller")
        .annotate(**annotations)
        .order_by("-created_at", "-pk")
    )


def reconciliation(series: Series) -> dict:
    """One series of `series_overview`: generated, then each column, in count and value.

    All cards of a series share its amount, so a value is count x amount (exact Decimal).
    """
    row = {
        "generated": (series.quantity, series.quantity * series.amount),
        "cards": (series.card_count, series.card_count * series.amount),
    }
    for key, _ in RECONCILIATION_COLUMNS:
        count = getattr(series, f"{key}_count")
        row[key] = (count, count * series.amount)
    return row


def _prefix(condition: Q, prefix: str) -> Q:
    """The same condition on a related model's fields."""
    q = Q()
    q.connector, q.negated = condition.connector, condition.negated
    for child in condition.children:
        if isinstance(child, Q):
            q.children.append(_prefix(child, prefix))
        else:
            key, value = child
            q.children.append((prefix + key, value))
    return q


def attempts_visible_to(user) -> QuerySet[RedemptionAttempt]:
    if not user.has_perm("topup.view_redemptionattempt"):
        return RedemptionAttempt.objects.none()
    return RedemptionAttempt.objects.filter(
        account__reseller_id__in=reseller_ids_visible_to(user)
    ).select_related("account")


def cards_per_reseller(reseller_ids: list[int]) -> dict[int, str]:
    """Cards by displayed status per reseller, as text for the Resellers section."""
    counts = {
        status: Count("pk", filter=condition) for status, condition in STATUS_CONDITIONS.items()
    }
    rows = (
        Card.objects.filter(reseller_id__in=reseller_ids)
        .order_by()
        .values("reseller_id")
        .annotate(**counts)
    )
    labels = dict(Card.DISPLAY_STATUSES)
    return {
        row["reseller_id"]: " · ".join(
            f"{labels.get(status, status).lower()} {row[status]:,}"
            for status in STATUS_CONDITIONS
            if row[status]
        )
        for row in rows
    }


def cards_total(reseller_ids: list[int]) -> str:
    return f"{Card.objects.filter(reseller_id__in=reseller_ids).count():,}"


def _outstanding(reseller_ids: list[int], by_reseller: bool):
    keys = ["reseller_id", "currency"] if by_reseller else ["currency"]
    return (
        Card.objects.filter(STATUS_CONDITIONS["new"], reseller_id__in=reseller_ids)
        .order_by()
        .values(*keys)
        .annotate(value=Sum("amount"))
        .order_by(*keys)
    )


def outstanding_per_reseller(reseller_ids: list[int]) -> dict[int, str]:
    """The value of each reseller's new (redeemable) cards, per currency."""
    texts: dict[int, list[str]] = {}
    for row in _outstanding(reseller_ids, by_reseller=True):
        texts.setdefault(row["reseller_id"], []).append(f"{row['value']} {row['currency']}")
    return {pk: ", ".join(parts) for pk, parts in texts.items()}


def outstanding_total(reseller_ids: list[int]) -> str:
    parts = [f"{row['value']} {row['currency']}" for row in _outstanding(reseller_ids, False)]
    return ", ".join(parts) or "0"


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    what: str
    who: str = ""
    detail: str = ""


def card_history(user, card: Card) -> list[HistoryEntry]:
    """Everything that happened to one card (already reached through `cards_visible_to`), in order.

    Generation from its series; every audited action that touched it (export, PIN reveal,
    release, mass edit, void), found exactly through `CardEventRange`; the redemption attempts
    on it that the user may see (the attempt log's own scope) and the redemption itself.
    Companies outside the user's part of the tree are not named.
    """
    visible = set(reseller_ids_visible_to(user))
    names = dict(Reseller.objects.filter(pk__in=visible).values_list("pk", "name"))

    def company(pk) -> str:
        return names.get(pk, "a company outside your part of the tree")

    series = card.series
    entries = [
        HistoryEntry(
            when=series.created_at,
            what="Generated",
            who=_who(series.created_by),
            detail=f"series {series.code}, "
            + ("in stock until released" if series.in_stock else "released for sale at once"),
        )
    ]
    for event in CardEventRange.events_of(card.pk).select_related("actor"):
        what, detail = _describe(event.action, event.details, company)
        entries.append(HistoryEntry(event.created_at, what, _who(event.actor), detail))
    attempts = attempts_visible_to(user).filter(card_number=card.number).select_related("staff")
    for attempt in attempts.exclude(outcome=RedemptionAttempt.Outcome.SUCCESS):
        detail = f"account {attempt.account.name}, from {attempt.client_address}: "
        detail += attempt.get_outcome_display().lower()
        if attempt.reason:
            detail += f" ({attempt.reason})"
        entries.append(
            HistoryEntry(attempt.created_at, "Redemption attempt", _who(attempt.staff), detail)
        )
    if card.status == Card.Status.ACTIVATED:
        # The account that redeemed a card is always within the scope of whoever sees the card.
        success = (
            RedemptionAttempt.objects.filter(
                card_number=card.number,
                outcome=RedemptionAttempt.Outcome.SUCCESS,
                account_id=card.activated_by_id,
            )
            .select_related("staff")
            .first()
        )
        detail = f"{card.amount} {card.currency} credited to account {card.activated_by.name}"
        who = ""
        if success is not None:
            detail += f", from {success.client_address}"
            if success.staff_id:
                who = _who(success.staff)
                detail += f"; support redemption: {success.note}"
        entries.append(HistoryEntry(card.activated_at, "Redeemed", who, detail))
    return sorted(entries, key=lambda entry: entry.when)


def _who(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


def _describe(action: str, details: dict, company) -> tuple[str, str]:
    """(what, detail) of an audit event as a line of a card's history."""
    if action == "cards.exported":
        return "Exported with PINs", f"{details.get('count', 0):,} card(s) in that export"
    if action == "card.pin_revealed":
        return "PIN revealed", ""
    if action == "cards.released":
        to = details.get("reseller")
        return "Released for sale", f"to {company(to)}" if to else ""
    if action == "cards.voided":
        return "Voided", "cancelled for good"
    if action == "cards.mass_edited":
        changes = details.get("changes", {})
        parts = []
        if changes.get("status") in ("blocked", "unblocked"):
            parts.append(changes["status"])
        if "reseller" in changes:
            parts.append(f"moved to {company(changes['reseller'])}")
        if "expires_at" in changes:
            expiry = changes["expires_at"]
            parts.append(f"expiry set to {expiry}" if expiry else "expiry cleared")
        what = ", ".join(parts) or "changed"
        return what[0].upper() + what[1:], "mass edit"
    return action, ""
