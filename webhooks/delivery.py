"""Delivering the outbox: fan-out into deliveries, signed POSTs, retries with backoff.

At least once: a delivery is sent with its row locked and marked in the same transaction; a
worker killed mid-delivery rolls that transaction back and the next run sends it again, with
the same `webhook-id`, which receivers use to process it once.
"""

import json
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task

from resellers.models import Reseller

from .models import Delivery, DeliveryAttempt, Event, Subscription
from .signing import webhook_signer
from .transport import http_post

logger = logging.getLogger(__name__)

DISPATCH_BATCH = 500


def events_dispatch() -> int:
    """Fan undispatched events out into one delivery per subscription that wants them (the
    event's reseller's and those above it); how many events. Concurrent runs skip each
    other's rows."""
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(dispatched=False)
            .order_by("pk")[:DISPATCH_BATCH]
        )
        if not events:
            return 0
        paths = dict(
            Reseller.objects.filter(pk__in={e.reseller_id for e in events}).values_list(
                "pk", "path"
            )
        )
        subscriptions = list(Subscription.objects.filter(active=True).select_related("reseller"))
        deliveries = [
            Delivery(event=event, subscription=sub, next_attempt_at=event.created_at)
            for event in events
            for sub in subscriptions
            if event.type in sub.events and paths[event.reseller_id].startswith(sub.reseller.path)
        ]
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched=True)
    return len(events)


def payload(event: Event) -> bytes:
    """The body every delivery of the event sends, byte for byte the same on every try."""
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.data},
        cls=DjangoJSONEncoder,
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: doubling, capped at a day."""
    seconds = settings.WEBHOOKS_BACKOFF_SECONDS * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, 86400))


def _send(delivery: Delivery, now: datetime, send) -> None:
    """One try; the delivery's new state is written by the caller's transaction."""
    body = payload(delivery.event)
    started = time.monotonic()
    status, error = None, ""
    try:
        headers = webhook_signer.headers(
            secret=delivery.subscription.secret,
            message_id=delivery.message_id,
            timestamp=int(now.timestamp()),
            body=body,
        )
        status = send(delivery.subscription.url, body, headers)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = status, error
    if status is not None and 200 <= status < 300:
        delivery.state, delivery.delivered_at = Delivery.State.DELIVERED, now
    elif delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
        delivery.state = Delivery.State.FAILED
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    DeliveryAttempt.objects.create(
        delivery=delivery,
        created_at=now,
        status_code=status,
        error=error or ("" if status and status < 300 else f"HTTP {status}"),
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    delivery.save(
        update_fields=[
            "attempts", "last_status_code", "last_error", "state", "delivered_at",
            "next_attempt_at",
        ]
    )  # fmt: skip


def deliveries_run(*, now: datetime | None = None, limit: int = 200, send=http_post) -> int:
    """Dispatch the outbox and try every delivery that is due; how many were tried.

    Each try is one transaction holding the delivery's row (`FOR UPDATE SKIP LOCKED`: two
    workers never send one delivery at once); a 2xx marks it delivered, anything else
    schedules the next try after `backoff`, and after WEBHOOKS_MAX_ATTEMPTS it is failed.
    `now` and `send` are seams for tests.
    """
    while events_dispatch():
        pass
    tried = retrying = 0
    while tried < limit:
        when = now or timezone.now()
        with transaction.atomic():
            delivery = (
                Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("event", "subscription")
                .filter(state=Delivery.State.PENDING, next_attempt_at__lte=when)
                .order_by("next_attempt_at", "pk")
                .first()
            )
            if delivery is None:
                break
            _send(delivery, when, send)
        tried += 1
        retrying += delivery.state == Delivery.State.PENDING
    if retrying:
        # Only a run that scheduled a retry asks to come back: the runs that found nothing
        # due (one per event committed meanwhile) do not pile up deferred tasks.
        _schedule_next()
    return tried


def _schedule_next() -> None:
    """Ask the worker to come back when the next retry is due (if the backend can wait)."""
    if not default_task_backend.supports_defer:
        return
    due = (
        Delivery.objects.filter(state=Delivery.State.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if due is not None and due > timezone.now():
        deliver_webhooks.using(run_after=due).enqueue()


@task()
def deliver_webhooks() -> int:
    """The worker's half: deliver what is due (see `deliveries_run`)."""
    return deliveries_run()
