"""Work for the task worker: bulk actions on large selections, large card sheets."""

from django.conf import settings
from django.db import models


class BulkJob(models.Model):
    """A bulk action on a large selection, run by the task worker in id-ordered chunks.

    Each chunk's transaction changes the cards and advances `last_id` and the counts together,
    so a resumed job carries on exactly after the last card done. See topup/services/jobs.py.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=30)  # a registered BulkAction's kind
    params = models.JSONField(default=dict)  # the action's describe()
    selection = models.JSONField(default=dict)  # {"search": query string} or {"cards": ids}
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    total = models.PositiveBigIntegerField(null=True, blank=True)  # counted when it starts
    selected = models.PositiveBigIntegerField(default=0)  # cards walked so far
    changed = models.PositiveBigIntegerField(default=0)
    last_id = models.BigIntegerField(default=0)  # the cursor: every card up to it is done
    runs = models.PositiveSmallIntegerField(default=0)  # times a worker started it
    token = models.CharField(max_length=32, blank=True, default="")  # the current run's claim
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")  # for the user; details go to the log
    # Failed because the database stayed away, not because of the work: it may run again
    # from its cursor (from its page, or by the reaper within TOPUP_JOB_MAX_RUNS).
    resumable = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="bulkjob_state_heartbeat")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def skipped(self) -> int:
        return self.selected - self.changed

    @property
    def working(self) -> bool:
        return self.state in (self.State.PENDING, self.State.RUNNING)


class SheetJob(models.Model):
    """A large card sheet made by the task worker, for the user who asked for it.

    The finished PDF is kept only sealed (AES-GCM under the PIN key, like the cards' own PINs)
    until it is downloaded once or expires; it is never a file on the server. Not a BulkJob:
    a sheet is one all-or-nothing render with a result to hand over, not chunked updates
    behind a cursor.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the worker"
        RUNNING = "running", "Rendering"
        DONE = "done", "Ready to download"
        FAILED = "failed", "Failed"
        GONE = "gone", "Downloaded or expired"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    card_ids = models.JSONField(default=list)
    layout = models.JSONField(default=dict)
    total = models.PositiveIntegerField()
    progress = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True, default="")
    result = models.BinaryField(null=True, editable=False)
    result_key_version = models.PositiveSmallIntegerField(null=True, editable=False)
    pages = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Written with each step's progress: a render whose heartbeat stops lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ()  # reached through the export right and its owner only

    def __str__(self) -> str:
        return f"sheet {self.pk} ({self.total} cards, {self.state})"
