"""Reads that depend on who is asking. Every view reaches cards and series through here."""

from django.db.models import Count, Q, QuerySet, Sum

from resellers.scoping import reseller_ids_visible_to

from .models import STATUS_CONDITIONS, Card, RedemptionAttempt, Series, SheetJob


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


def sheet_jobs_visible_to(user) -> QuerySet[SheetJob]:
    """A sheet holds PINs: only the user who asked for it sees it."""
    if not user.is_authenticated or not user.has_perm("topup.reveal_pin"):
        return SheetJob.objects.none()
    return SheetJob.objects.filter(created_by=user)
