"""A card's history, as its page tells it: generation, every audited action that touched it
(exactly, through `CardEventRange`), background jobs' chunks, redemption attempts, the redemption.

Not a selector: describing a background job needs the bulk actions' registry, which lives with
the services.
"""

from dataclasses import dataclass
from datetime import datetime

from babel.lists import format_list
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from locales.formats import current_locale, local_datetime, money, number
from resellers.models import AuditEvent, Reseller
from resellers.scoping import reseller_ids_visible_to

from .models import Card, CardEventRange, RedemptionAttempt
from .services.bulk.actions import BULK_ACTIONS

# The papers of a card sheet as people name them (the layout stores "a4", "letter", "thermal").
PAPER_NAMES = {"a4": _("A4"), "letter": _("US Letter"), "thermal": _("80 mm thermal roll")}


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
        return names.get(pk) or gettext("a company outside your part of the tree")

    series = card.series
    entries = [
        HistoryEntry(
            when=series.created_at,
            what=gettext("Generated"),
            who=_who(series.created_by),
            detail=_generated(series),
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
                detail = (
                    gettext("%(detail)s, background job %(job)s")
                    % {"detail": detail, "job": job.pk}
                    if detail
                    else gettext("background job %(job)s") % {"job": job.pk}
                )
                entries.append(HistoryEntry(run.created_at, what, _who(job.created_by), detail))
    attempts = (
        RedemptionAttempt.objects.visible_to(user)
        .filter(card_number=card.number)
        .select_related("staff")
    )
    for attempt in attempts.exclude(outcome=RedemptionAttempt.Outcome.SUCCESS):
        values = {
            "account": attempt.account.name,
            "address": attempt.client_address,
            "outcome": attempt.get_outcome_display(),
            "reason": attempt.reason,
        }
        if attempt.reason:
            detail = gettext("account %(account)s, from %(address)s: %(outcome)s (%(reason)s)")
        else:
            detail = gettext("account %(account)s, from %(address)s: %(outcome)s")
        entries.append(
            HistoryEntry(
                attempt.created_at,
                gettext("Redemption attempt"),
                _who(attempt.staff),
                detail % values,
            )
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
        values = {
            "amount": money(card.amount, card.currency),
            "account": card.activated_by.name,
            "address": success.client_address if success else "",
            "note": success.note if success else "",
        }
        who = ""
        if success is None:
            detail = gettext("%(amount)s credited to account %(account)s")
        elif success.staff_id:
            who = _who(success.staff)
            detail = gettext(
                "%(amount)s credited to account %(account)s, from %(address)s; support "
                "redemption: %(note)s"
            )
        else:
            detail = gettext("%(amount)s credited to account %(account)s, from %(address)s")
        entries.append(HistoryEntry(card.activated_at, gettext("Redeemed"), who, detail % values))
    return sorted(entries, key=lambda entry: entry.when)


def _generated(series) -> str:
    values = {"code": series.code, "label": series.label}
    if series.in_stock and series.label:
        text = gettext("series %(code)s (%(label)s), in stock until released")
    elif series.in_stock:
        text = gettext("series %(code)s, in stock until released")
    elif series.label:
        text = gettext("series %(code)s (%(label)s), released for sale at once")
    else:
        text = gettext("series %(code)s, released for sale at once")
    return text % values


def _who(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


def _describe(action: str, details: dict, company) -> tuple[str, str]:
    """(what, detail) of an audit event (or a background job) as a line of a card's history."""
    if action == AuditEvent.Action.CARDS_EXPORTED:
        count = details.get("count", 0)
        return gettext("Exported with PINs"), ngettext(
            "%(n)s card in that export", "%(n)s cards in that export", count
        ) % {"n": number(count)}
    if action == AuditEvent.Action.CARDS_PRINTED:
        paper = details.get("layout", {}).get("paper", "")
        count = details.get("count", 0)
        values = {"paper": PAPER_NAMES.get(paper, paper), "n": number(count)}
        return gettext("Printed with PIN"), ngettext(
            "%(paper)s sheet of %(n)s card", "%(paper)s sheet of %(n)s cards", count
        ) % values if paper else ngettext("%(n)s card", "%(n)s cards", count) % values
    if action == AuditEvent.Action.PIN_REVEALED:
        return gettext("PIN revealed"), ""
    if action == AuditEvent.Action.CARDS_RELEASED:
        to = details.get("changes", {}).get("reseller")
        detail = gettext("to %(company)s") % {"company": company(to)} if to else ""
        return gettext("Released for sale"), detail
    if action == AuditEvent.Action.CARDS_VOIDED:
        return gettext("Voided"), gettext("cancelled for good")
    if action == AuditEvent.Action.CARDS_MASS_EDITED:
        changes = details.get("changes", {})
        parts = []
        if changes.get("status") == "blocked":
            parts.append(gettext("blocked"))
        elif changes.get("status") == "unblocked":
            parts.append(gettext("unblocked"))
        if "reseller" in changes:
            parts.append(
                gettext("moved to %(company)s") % {"company": company(changes["reseller"])}
            )
        if "expires_at" in changes:
            expiry = changes["expires_at"]
            when = parse_datetime(expiry) if isinstance(expiry, str) else None
            parts.append(
                gettext("expiry set to %(when)s")
                % {"when": local_datetime(when) if when else expiry}
                if expiry
                else gettext("expiry cleared")
            )
        # A list of changes, joined as the language lists things ("a, b and c").
        what = (
            format_list(parts, style="unit", locale=current_locale())
            if parts
            else gettext("changed")
        )
        return what[:1].upper() + what[1:], gettext("mass edit")
    return action, ""
