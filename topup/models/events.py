"""Which cards an audited action or a background job touched, as runs of card ids."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from resellers.models import AuditEvent, audit

CARD_RANGE_SPAN = 10_000


class CardEventRange(models.Model):
    """Which cards an action touched, as runs of consecutive card ids.

    Each run belongs to an audit event (an action in one transaction) or to a background bulk
    job (its chunks commit one by one, each with its own runs; its audit event comes at the
    end). Bulk actions record exactly the ids their UPDATE changed; a series' cards have
    consecutive ids, so a million-card release is a hundred rows. A run spans fewer than SPAN
    ids, so "what touched card X" is one index range scan of `first_id` in (X - SPAN, X],
    whatever the number of actions: a card's history stays cheap.
    """

    SPAN = CARD_RANGE_SPAN

    event = models.ForeignKey(
        AuditEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="card_ranges"
    )
    job = models.ForeignKey(
        "BulkJob", null=True, blank=True, on_delete=models.CASCADE, related_name="card_ranges"
    )
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        default_permissions = ()  # written by the services, read through a card's history
        indexes = [models.Index(fields=["first_id", "last_id"], name="card_range_first")]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_id__gte=models.F("first_id"))
                & Q(last_id__lt=models.F("first_id") + CARD_RANGE_SPAN),
                name="card_range_bounded",
            ),
            models.CheckConstraint(
                condition=Q(event__isnull=False, job__isnull=True)
                | Q(event__isnull=True, job__isnull=False),
                name="card_range_event_or_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id or self.job_id}: {self.first_id}-{self.last_id}"

    @classmethod
    def touching(cls, card_id: int) -> models.QuerySet:
        """The runs that contain this card (exactly), with their event or job, oldest first."""
        return (
            cls.objects.filter(
                first_id__gt=card_id - cls.SPAN, first_id__lte=card_id, last_id__gte=card_id
            )
            .select_related("event__actor", "job__created_by")
            .order_by("created_at", "pk")
        )

    @classmethod
    def record(cls, runs, *, event=None, job=None) -> None:
        cls.objects.bulk_create(
            [cls(event=event, job=job, first_id=first, last_id=last) for first, last in runs],
            batch_size=5000,
        )


def card_runs(ids) -> tuple[list[tuple[int, int]], int]:
    """Runs (first, last) of consecutive ids, each shorter than CardEventRange.SPAN; and the count.

    `ids` may be any iterable (sorted or not, a queryset iterator, RETURNING rows).
    """
    ordered = sorted(ids)
    runs: list[tuple[int, int]] = []
    for card_id in ordered:
        if runs and card_id == runs[-1][1] + 1 and card_id - runs[-1][0] < CardEventRange.SPAN:
            runs[-1] = (runs[-1][0], card_id)
        elif not runs or card_id != runs[-1][1]:
            runs.append((card_id, card_id))
    return runs, sum(last - first + 1 for first, last in runs)


def audit_cards(action: str, *, actor=None, runs=None, **details) -> AuditEvent:
    """`audit`, recording exactly which cards the action touched (`runs` from `card_runs`).

    Call it inside the transaction of the action it records; each card's history finds it.
    """
    event = audit(action, actor=actor, **details)
    if runs:
        CardEventRange.record(runs, event=event)
    return event
