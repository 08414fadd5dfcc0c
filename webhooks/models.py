"""Webhook subscriptions, the outbox of events and their deliveries.

An `Event` is written in the same transaction as the change it reports (the outbox); the task
worker fans it out into one `Delivery` per matching subscription and sends them, signed, with
retries (`delivery.py`). Nothing here holds a PIN.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from resellers.models import Reseller

from .secret_box import secret_box


class EventType(models.TextChoices):
    SERIES_GENERATED = "series.generated", "Series generated"
    JOB_FINISHED = "job.finished", "Background job finished"
    CARDS_RELEASED = "cards.released", "Cards released"
    CARD_REDEEMED = "card.redeemed", "Card redeemed"
    LOCKOUT_STARTED = "lockout.started", "Lockout started"


class Subscription(models.Model):
    """A receiver's URL and the events it wants, for a reseller and the resellers below it.

    The secret (`whsec_<base64>`) signs every delivery; it is shown once, when created, and
    stored only encrypted (`secret_box`).
    """

    reseller = models.ForeignKey(
        Reseller, on_delete=models.PROTECT, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)  # EventType values
    secret_encrypted = models.TextField(editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ("view",)
        permissions = [("manage_webhooks", "Can manage webhook subscriptions and replay them")]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        """The signing secret, decrypted for signing a delivery."""
        return secret_box.decrypt(self.secret_encrypted)


class Event(models.Model):
    """One change worth telling receivers about: the outbox row."""

    type = models.CharField(max_length=40, choices=EventType.choices)
    reseller = models.ForeignKey(Reseller, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched = models.BooleanField(default=False)

    class Meta:
        default_permissions = ("view",)
        indexes = [
            models.Index(
                fields=["id"], condition=Q(dispatched=False), name="webhook_event_undispatched"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


def _message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Delivery(models.Model):
    """An event sent to one subscription: the same `message_id` (`webhook-id`) on every try."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=40, unique=True, default=_message_id)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="delivery_once"),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "delivered", "failed"]),
                name="delivery_known_state",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="webhook_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return self.message_id


class DeliveryAttempt(models.Model):
    """One try of a delivery, for the delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    created_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"
