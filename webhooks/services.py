"""What changes webhook subscriptions: create (the secret shown once), deactivate, replay."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from resellers.models import Reseller
from resellers.scoping import reseller_ids_visible_to

from .events import deliver_soon
from .models import Delivery, EventType, Subscription
from .secret_box import secret_box
from .signing import webhook_signer
from .ssrf import check_receiver_url


def _check(user, reseller_id: int) -> None:
    if not user.has_perm("webhooks.manage_webhooks"):
        raise PermissionDenied
    if reseller_id not in reseller_ids_visible_to(user):
        raise PermissionDenied


def subscription_create(
    *, user, reseller: Reseller, url: str, events: list[str]
) -> tuple[Subscription, str]:
    """A new subscription and its signing secret, returned this once to show the user.

    Needs the right and the reseller in the user's subtree; the URL must pass the SSRF check.
    """
    _check(user, reseller.pk)
    check_receiver_url(url)
    events = sorted({EventType(event).value for event in events})
    if not events:
        raise ValidationError({"events": "Choose at least one event."})
    secret = webhook_signer.make_secret()
    subscription = Subscription.objects.create(
        reseller=reseller,
        url=url,
        events=events,
        secret_encrypted=secret_box.encrypt(secret),
        created_by=user,
    )
    return subscription, secret


def subscription_deactivate(*, user, subscription: Subscription) -> None:
    """Stop sending new events to the subscription (pending deliveries still go)."""
    _check(user, subscription.reseller_id)
    Subscription.objects.filter(pk=subscription.pk).update(active=False)
    subscription.active = False


def delivery_replay(*, user, delivery: Delivery) -> None:
    """Send a delivery again, now, with its `webhook-id` (receivers that dedupe ignore a
    message they processed); a fresh set of tries."""
    _check(user, delivery.subscription.reseller_id)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        deliver_soon()
