"""A card's history, as its page tells it: generation, every audited action that touched it
(exactly, through `CardEventRange`), background jobs' chunks, redemption attempts, the redemption.

Not a selector: describing a background job needs the bulk actions' registry, which lives with
the services.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import ngettext

from resellers.models import AuditEvent, Reseller
from resellers.scoping import reseller_ids_visible_to

from .models import Card, CardEventRange, RedemptionAttempt
from .services.bulk.actions import BULK_ACTIONS

# The papers of a card sheet as people name them (the layout stores "a4", "letter", "thermal").
PAPER_NAMES = {"a4": "A4", "letter": "US Letter", "thermal": "80 mm thermal roll"}


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
            detail=f"series {series.code}"
            + (f" ({series.label})" if series.label else "")
            + ", "
            + ("in stock until released" if series.in_stock else "released for sale at once"),
        )
    ]
    seen = set()
    for run in CardEventRange.touching(card.pk):
        if run.event_id is not None and run.event_id not in seen:
            seen.add(run.event_id)
            event = run.event
            what, detail = _describe(event.action, event.details, company)
            entries.append(HistoryEntry(event.created_at, what, _who(event.actor), detail))
        elif run.job_id is not None:  # a background job: when its chunk changed this card
            job = run.job
            action = BULK_ACTIONS.get(job.kind)
            if action is not None:
                details = {"changes": job.params, "selection": job.selection}
                what, detail = _describe(action.audit_action, details, company)
                detail = f"{detail}, background job {job.pk}".lstrip(", ")
                entries.append(HistoryEntry(run.created_at, what, _who(job.created_by), detail))
    attempts = (
        RedemptionAttempt.objects.visible_to(user)
        .filter(card_number=card.number)
        .select_related("staff")
    )
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
    """(what, detail) of an audit event (or a background job) as a line of a card's history."""
    if action == AuditEvent.Action.CARDS_EXPORTED:
        count = details.get("count", 0)
        return "Exported with PINs", ngettext(
            "%(n)s card in that export", "%(n)s cards in that export", count
        ) % {"n": f"{count:,}"}
    if action == AuditEvent.Action.CARDS_PRINTED:
        paper = details.get("layout", {}).get("paper", "")
        count = details.get("count", 0)
        values = {"paper": PAPER_NAMES.get(paper, paper), "n": f"{count:,}"}
        return "Printed with PIN", ngettext(
            "%(paper)s sheet of %(n)s card", "%(paper)s sheet of %(n)s cards", count
        ) % values if paper else ngettext("%(n)s card", "%(n)s cards", count) % values
    if action == AuditEvent.Action.PIN_REVEALED:
        return "PIN revealed", ""
    if action == AuditEvent.Action.CARDS_RELEASED:
        to = details.get("changes", {}).get("reseller")
        return "Released for sale", f"to {company(to)}" if to else ""
    if action == AuditEvent.Action.CARDS_VOIDED:
        return "Voided", "cancelled for good"
    if action == AuditEvent.Action.CARDS_MASS_EDITED:
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
