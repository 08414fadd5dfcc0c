"""The webhook events of series and cards, written in the transaction of their change.

One function per moment a service reaches; each is one line at its call site. No PIN, no
secret goes into an event: numbers, amounts, counts and ids only.
"""

from django.db.models import Count, Q

from resellers.models import AuditEvent
from webhooks.events import anyone_subscribed, webhook_event
from webhooks.models import EventType

from ..models import BulkJob, Card, CardEventRange, Series
from .bulk.actions import BulkAction


def series_generated(series: Series) -> None:
    webhook_event(
        EventType.SERIES_GENERATED,
        reseller_id=series.reseller_id,
        data={
            "series": series.pk,
            "code": series.code,
            "quantity": series.quantity,
            "amount": f"{series.amount:.2f}",
            "currency": series.currency,
            "first_number": series.first_number,
            "in_stock": series.in_stock,
        },
    )


def cards_changed(action: BulkAction, *, runs=None, job: BulkJob | None = None) -> None:
    """A bulk action that changed cards: for a release, one `cards.released` per reseller
    that now owns released cards (the receiving one, else the cards' owners), read from the
    changed ids (`runs`, or the job's recorded ranges); nothing read when nobody subscribes."""
    if action.audit_action != AuditEvent.Action.CARDS_RELEASED:
        return
    if not anyone_subscribed(EventType.CARDS_RELEASED):
        return
    if job is not None:
        runs = CardEventRange.objects.filter(job=job).values_list("first_id", "last_id")
    released = Q(pk__in=[])
    for first, last in runs or ():
        released |= Q(pk__range=(first, last))
    owners = Card.objects.filter(released).values("reseller_id").annotate(count=Count("pk"))
    for owner in owners.order_by("reseller_id"):
        webhook_event(
            EventType.CARDS_RELEASED,
            reseller_id=owner["reseller_id"],
            data={"released": owner["count"], **({"job": job.pk} if job else {}),
                  **action.describe()},
        )  # fmt: skip


def bulk_job_finished(job: BulkJob, action: BulkAction, *, changed: int, failed: str = ""):
    """A background job done or failed (`job.finished`), and what a release changed."""
    actor = job.created_by
    if actor is None or actor.reseller_id is None:
        return
    webhook_event(
        EventType.JOB_FINISHED,
        reseller_id=actor.reseller_id,
        data={
            "job": job.pk,
            "kind": job.kind,
            "state": "failed" if failed else "done",
            "changed": changed,
        },
    )
    if not failed:
        cards_changed(action, job=job)


def lockout_started(*, account, retry_after: int, api_key: str = "") -> None:
    """A failure filled a lockout rule's limit: the account (or the key) waits now."""
    webhook_event(
        EventType.LOCKOUT_STARTED,
        reseller_id=account.reseller_id,
        data={
            "account": account.number,
            "retry_after": retry_after,
            **({"api_key": api_key} if api_key else {}),
        },
    )
