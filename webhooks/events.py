"""`webhook_event`: what a service calls, in its transaction, when a change worth a webhook
commits. The event goes to the outbox only if a subscription wants it."""

import json

from django.db import connection, transaction
from django.utils import timezone

from resellers.models import Reseller

from .delivery import deliver_webhooks
from .models import Event, EventType, Subscription


def _subscribed_sql(*, event_type: str, reseller_sql: str) -> str:
    """An SQL condition: an active subscription of the reseller `reseller_sql` (an SQL
    expression of its id) or of one above it wants `event_type` (one parameter, JSON)."""
    return (
        f"EXISTS (SELECT 1 FROM {Subscription._meta.db_table} s"
        f" JOIN {Reseller._meta.db_table} sr ON sr.id = s.reseller_id"
        f" JOIN {Reseller._meta.db_table} er ON er.id = {reseller_sql}"
        " WHERE s.active AND s.events @> %s::jsonb"
        " AND substr(er.path, 1, length(sr.path)) = sr.path)"
    )


def webhook_event(event_type: EventType, *, reseller_id: int, data: dict) -> bool:
    """Write an event to the outbox in the caller's transaction (one statement), if an active
    subscription of this reseller or of one above it wants it; True if written.

    After the commit the task worker is asked to deliver it; should that request be lost,
    the next run (or `manage.py webhooks_deliver`) finds the event in the outbox anyway.
    """
    event_type = EventType(event_type)
    columns = ", ".join(
        Event._meta.get_field(name).column
        for name in ("type", "reseller", "data", "created_at", "dispatched")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} ({columns})"
            " SELECT %s, %s, %s::jsonb, %s, false"
            f" WHERE {_subscribed_sql(event_type=event_type, reseller_sql='%s')}",
            [
                event_type.value,
                reseller_id,
                json.dumps(data),
                connection.ops.adapt_datetimefield_value(timezone.now()),
                reseller_id,
                json.dumps([event_type.value]),
            ],
        )
        written = cursor.rowcount == 1
    if written:
        deliver_soon()
    return written


def anyone_subscribed(event_type: EventType) -> bool:
    """Whether any active subscription wants this event (before reading what it would say)."""
    return Subscription.objects.filter(active=True, events__contains=[event_type.value]).exists()


def deliver_soon() -> None:
    """Ask the worker to deliver once the current transaction commits."""
    transaction.on_commit(deliver_webhooks.enqueue)
