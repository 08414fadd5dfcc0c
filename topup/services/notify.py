"""The webhook events of series and cards, written in the transaction of their change.

One function per moment a service reaches; each is one line at its call site. No PIN, no
secret goes into an event: numbers, amounts, counts and ids only.
"""

from resellers.models import AuditEvent
from webhooks.events import webhook_event
from webhooks.models import EventType

from ..models import BulkJob, Series
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


def cards_changed(action: BulkAction, *, actor, changed: int, job: BulkJob | None = None):
    """A bulk action that changed cards: `cards.released` for a release (to the receiving
    reseller, else the actor's company)."""
    if action.audit_action != AuditEvent.Action.CARDS_RELEASED or not changed:
        return
    receiver = getattr(action, "reseller", None)
    reseller_id = receiver.pk if receiver is not None else getattr(actor, "reseller_id", None)
    if reseller_id is None:
        return
    webhook_event(
        EventType.CARDS_RELEASED,
        reseller_id=reseller_id,
        data={"released": changed, **({"job": job.pk} if job else {}), **action.describe()},
    )


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
        cards_changed(action, actor=actor, changed=changed, job=job)


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
