"""Reads that depend on who is asking. Every view reaches cards and series through here."""

from django.db.models import Count, Q, QuerySet, Sum

from resellers.scoping import reseller_ids_visible_to

from .models import STATUS_CONDITIONS, Card, RedemptionAttempt, Series


def cards_visible_to(user) -> QuerySet[Card]:
    if not user.is_authenticated:
        return Card.objects.none()
    return Card.objects.filter(reseller_id__in=reseller_ids_visible_to(user))


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


def series_overview(user) -> QuerySet[Series]:
    """Each series with counts by status and its outstanding value (new cards, at face value).

    Counts only the cards the user may see (a series' cards can be moved to other resellers).
    """
    visible = Q(cards__reseller_id__in=reseller_ids_visible_to(user))
    annotations = {
        f"{status}_count": Count("cards", filter=visible & _prefix(condition, "cards__"))
        for status, condition in STATUS_CONDITIONS.items()
    }
    annotations["outstanding"] = Sum(
        "cards__amount", filter=visible & _prefix(STATUS_CONDITIONS["new"], "cards__")
    )
    return (
        series_visible_to(user)
        .select_related("reseller")
        .annotate(**annotations)
        .order_by("-created_at", "-pk")
    )


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
