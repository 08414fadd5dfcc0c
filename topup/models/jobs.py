"""Work for the task worker: the shape every job shares, bulk actions on large selections,
large card sheets (and series, in `cards`, which share the shape)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from resellers.scoping import ResellerScopedQuerySet


def default_language() -> str:
    """The language cards are printed in unless a series or a print job says otherwise: the
    site's own ("en-us" -> "en"). Any of settings.LANGUAGES (`is_printed_language`)."""
    return settings.LANGUAGE_CODE.split("-")[0]


LANGUAGE_MESSAGE = _("Choose one of the languages offered.")


def is_printed_language(code: str) -> bool:
    """Whether cards can be printed in this language: one of settings.LANGUAGES."""
    return code in dict(settings.LANGUAGES)


class Job(models.Model):
    """What every piece of background work has, for its page and for `jobs_reap`.

    The worker claims it (pending -> running, `runs` + 1) and writes `heartbeat_at` with each
    step of `progress`; one whose heartbeat is older than TOPUP_JOB_STALE_SECONDS lost its
    worker (`topup.services.jobs.jobs_reap`). It ends done or failed (`error`, for the user;
    details go to the log) at `finished_at`. A kind with more states or other words for them
    declares its own `State` and `state` field with the same four values.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the worker")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    progress = models.PositiveBigIntegerField(default=0)  # items done so far
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    runs = models.PositiveSmallIntegerField(default=0)  # times a worker started it
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    @property
    def working(self) -> bool:
        return self.state in (self.State.PENDING, self.State.RUNNING)


class BulkJobQuerySet(ResellerScopedQuerySet):
    scope = "created_by__reseller_id"  # started by users of the user's part of the tree


class SheetJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> "SheetJobQuerySet":
        """A sheet holds PINs: only the user who asked for it sees it."""
        if not user.is_authenticated or not user.has_perm("topup.reveal_pin"):
            return self.none()
        return self.filter(created_by=user)


class BulkJob(Job):
    """A bulk action on a large selection, run by the task worker in id-ordered chunks; its
    `progress` is the cards walked so far (changed + skipped).

    Each chunk's transaction changes the cards and advances `last_id` and the counts together,
    so a resumed job carries on exactly after the last card done. See topup/services/jobs.py.
    """

    kind = models.CharField(max_length=30)  # a registered BulkAction's kind
    params = models.JSONField(default=dict)  # the action's describe()
    selection = models.JSONField(default=dict)  # {"search": query string} or {"cards": ids}
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.PositiveBigIntegerField(null=True, blank=True)  # counted when it starts
    changed = models.PositiveBigIntegerField(default=0)
    last_id = models.BigIntegerField(default=0)  # the cursor: every card up to it is done
    token = models.CharField(max_length=32, blank=True, default="")  # the current run's claim
    # Failed because the database stayed away, not because of the work: it may run again
    # from its cursor (from its page, or by the reaper within TOPUP_JOB_MAX_RUNS).
    resumable = models.BooleanField(default=False)

    objects = BulkJobQuerySet.as_manager()

    class Meta(Job.Meta):
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="bulkjob_state_heartbeat")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def skipped(self) -> int:
        return self.progress - self.changed


class SheetJob(Job):
    """A large card sheet made by the task worker, for the user who asked for it.

    The finished PDF is kept only sealed (AES-GCM under the PIN key, like the cards' own PINs)
    until it is downloaded once or expires; it is never a file on the server. Not a BulkJob:
    a sheet is one all-or-nothing render with a result to hand over, not chunked updates
    behind a cursor.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the worker")
        RUNNING = "running", _("Rendering")
        DONE = "done", _("Ready to download")
        FAILED = "failed", _("Failed")
        GONE = "gone", _("Downloaded or expired")

    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    card_ids = models.JSONField(default=list)
    layout = models.JSONField(default=dict)
    total = models.PositiveIntegerField()
    result = models.BinaryField(null=True, editable=False)
    result_key_version = models.PositiveSmallIntegerField(null=True, editable=False)
    pages = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The language printed on the cards (a code of settings.LANGUAGES; see Series.language).
    language = models.CharField(max_length=10, default=default_language)

    objects = SheetJobQuerySet.as_manager()

    class Meta(Job.Meta):
        default_permissions = ()  # reached through the export right and its owner only

    def __str__(self) -> str:
        return f"sheet {self.pk} ({self.total} cards, {self.state})"
