"""Background jobs: bulk actions on large selections, and the reaper of dead workers' work.

What a background bulk job guarantees
-------------------------------------
- It walks the selection (the search, re-read as it goes, or the ticked ids) in id order, in
  chunks of TOPUP_BULK_CHUNK_SIZE cards; each chunk is one short transaction that locks and
  changes the chunk's cards *and* advances the job's cursor (`last_id`) and counts. So a
  redemption waits at most one chunk, each card is changed at most once, and a job whose
  worker died resumes exactly after the last chunk committed.
- The rule of the action (activated cards are never changed) is checked on each row under
  its lock, as for a small selection; changed + skipped = the cards walked.
- One audit event, written with the last chunk (or when the job fails), records what was
  applied: the action, the selection and the counts.

What it does not: it is not one transaction. While it runs, part of the selection is changed
and part is not; a failed job leaves the chunks before its cursor changed (its page and audit
event say how many). A card that enters the search behind the cursor after the job passed it
is not changed; one that leaves the search before the cursor reaches it is not walked.

Dead workers
------------
Series, bulk jobs and card sheets share one shape (`topup.models.Job`: state, progress,
heartbeat, error, runs, timestamps) and one reaper. A worker writes a heartbeat with each
chunk (series: each batch; sheets: each few pages). `jobs_reap()` (run at the start of every
job and series, and by `manage.py reap_jobs`, safe to schedule) walks every kind (`REAPING`)
alike and finds work whose heartbeat is older than TOPUP_JOB_STALE_SECONDS: a bulk job is
queued again (it resumes at its cursor) until it has been started TOPUP_JOB_MAX_RUNS times,
then marked failed; a series or a sheet (all or nothing, so nothing was kept) is marked
failed with the reason. Pending bulk jobs and sheets queued that long ago are queued again.

Lost connections
----------------
Every transaction of a job runs through `config.db_faults.with_reconnect`: a lost connection,
a failover or a statement timeout closes the connection, waits (bounded exponential backoff)
and runs the transaction again on a new one. A chunk whose commit's fate is unknown is safe
to run again: it reads the cursor under the job's row lock, so it finds its own commit and
goes on after it. Only when the database stays away for DB_OUTAGE_RETRY_SECONDS does the job
stop; if the database is back to record it, the job is marked failed and `resumable`, and an
operator (`bulk_job_resume`) or the reaper runs it again from its cursor; if not, it stays
running with an old heartbeat and the reaper queues it again.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop
from django_tasks import task

from config.db_faults import DatabaseAway, with_reconnect
from resellers.models import AuditEvent, audit
from resellers.scoping import reseller_ids_visible_to

from ..models import BulkJob, CardEventRange, Job, Series, SheetJob
from ..selectors import cards_for_selection
from .bulk.actions import BULK_ACTIONS, BulkAction, BulkBusy
from .bulk.chunks import ChunkStatement, with_retries
from .notify import bulk_job_finished
from .printing.jobs import render_sheet_job, sheet_job_dead

logger = logging.getLogger(__name__)

# Stored as written (English msgids); the pages show them translated.
INTERNAL_ERROR = gettext_noop("An internal error stopped it; the details are in the server log.")
SERIES_WORKER_DIED = gettext_noop("The worker stopped while writing this series, so no card was "
                                  "created. Generate it again.")  # fmt: skip


class JobFailed(RuntimeError):
    """Raised by a task whose job or series ended failed, so the task fails too."""


class _Lost(Exception):
    """This run no longer owns the job (the reaper handed it to another run)."""


def bulk_job_start(*, user, action: BulkAction, selection: dict) -> BulkJob:
    """Create the job of a bulk action and queue it for the worker, once this commits."""
    with transaction.atomic():
        job = BulkJob.objects.create(
            kind=action.kind,
            params=action.describe(),
            selection=selection,
            created_by=user,
            heartbeat_at=timezone.now(),
        )
        transaction.on_commit(lambda: run_bulk_job.enqueue(job.pk))
    return job


def bulk_job_run(*, job_id: int) -> BulkJob:
    """Run (or resume) a bulk job to its end; returns it done or failed.

    A job another run owns, or one already finished, is returned untouched.
    """
    what = f"Bulk job {job_id}"
    with_reconnect(jobs_reap, what=what)
    token = uuid.uuid4().hex
    # Our own token matches too: a claim whose commit's fate was unknown is found, not lost.
    claimable = Q(state=BulkJob.State.PENDING) | Q(state=BulkJob.State.RUNNING, token=token)
    claimed = with_reconnect(
        lambda: BulkJob.objects.filter(claimable, pk=job_id).update(
            state=BulkJob.State.RUNNING,
            token=token,
            runs=F("runs") + 1,
            heartbeat_at=timezone.now(),
            resumable=False,
        ),
        what=what,
    )
    job = with_reconnect(
        lambda: BulkJob.objects.select_related("created_by").get(pk=job_id), what=what
    )
    if not claimed:
        return job
    try:
        action, cards, statement = with_reconnect(lambda: _prepare(job), what=what)
        if job.total is None:
            job.total = with_reconnect(cards.count, what=what)
            with_reconnect(
                lambda: BulkJob.objects.filter(pk=job.pk, token=token).update(total=job.total),
                what=what,
            )
        chunk = lambda: with_retries(lambda: _run_chunk(job, token, action, cards, statement))  # noqa: E731
        while not with_reconnect(chunk, what=what):
            pass
    except _Lost:
        logger.warning("Bulk job %s: another run took it over; this one stops.", job.pk)
    except DatabaseAway as exc:
        logger.error("Bulk job %s: %s", job.pk, exc)
        _fail_when_back(job, token, f"{exc} It can be resumed where it stopped.")
    except BulkBusy:
        logger.exception("Bulk job %s: lock conflicts outlasted every retry", job.pk)
        _fail(job, token, "Other changes to these cards kept colliding with it.")
    except ValidationError as exc:
        _fail(job, token, " ".join(exc.messages))
    except Exception:
        logger.exception("Bulk job %s failed", job.pk)
        _fail(job, token, INTERNAL_ERROR)
    with_reconnect(job.refresh_from_db, what=what)
    return job


def _fail_when_back(job: BulkJob, token: str, reason: str) -> None:
    """Mark the job failed and resumable once the database answers; if it stays away, leave
    the job running with its old heartbeat, for the reaper to queue again."""
    try:
        with_reconnect(lambda: _fail(job, token, reason, resumable=True), what=f"Bulk job {job.pk}")
    except DatabaseAway:
        logger.error("Bulk job %s: left to the reaper (the database is still away).", job.pk)


def bulk_job_resume(*, user, job: BulkJob) -> bool:
    """Queue again a job that failed because the database stayed away; it carries on after
    its last committed chunk. Only its action's right may do it (the caller scopes `job`).
    Returns False when the job is not (or no longer) resumable."""
    action = BULK_ACTIONS.get(job.kind)
    if action is None or not user.has_perm(action.right):
        raise PermissionDenied
    with transaction.atomic():
        resumed = BulkJob.objects.filter(
            pk=job.pk, state=BulkJob.State.FAILED, resumable=True
        ).update(
            state=BulkJob.State.PENDING,
            resumable=False,
            error="",
            token="",
            finished_at=None,
            heartbeat_at=timezone.now(),
        )
        if resumed:
            audit(AuditEvent.Action.BULK_JOB_RESUMED, actor=user, job=job.pk)
            transaction.on_commit(lambda: run_bulk_job.enqueue(job.pk))
    return bool(resumed)


def _prepare(job: BulkJob):
    """The action, the selection and the chunk statement, for the job's user as of now."""
    user = job.created_by
    action_class = BULK_ACTIONS.get(job.kind)
    if action_class is None:
        raise ValidationError(f"Unknown kind of bulk action: {job.kind}.")
    if user is None or not user.is_active or not user.has_perm(action_class.right):
        raise ValidationError("Its user no longer holds the right to do it.")
    action = action_class.from_description(job.params)
    action.validate(user=user)
    cards = cards_for_selection(user, job.selection).visible_to(user)
    action.check(user=user, cards=cards.filter(pk__gt=job.last_id))
    return action, cards, ChunkStatement(action, reseller_ids_visible_to(user))


def _run_chunk(job: BulkJob, token: str, action: BulkAction, cards, statement) -> bool:
    """One chunk in one transaction, with the cursor and counts; True when the job is done."""
    with transaction.atomic():
        statement.start_transaction()
        row = (
            BulkJob.objects.select_for_update()
            .filter(pk=job.pk, token=token, state=BulkJob.State.RUNNING)
            .values("last_id", "progress", "changed")
            .first()
        )
        if row is None:
            raise _Lost
        chunk = statement.next(cards, after=row["last_id"])
        now = timezone.now()
        if not chunk.ids:
            BulkJob.objects.filter(pk=job.pk).update(
                state=BulkJob.State.DONE, heartbeat_at=now, finished_at=now
            )
            if row["changed"]:  # a job that changed no card has nothing to record
                _audit(job, action, selected=row["progress"], changed=row["changed"])
            return True
        CardEventRange.record(statement.runs, job=job)  # each card's history finds the job
        BulkJob.objects.filter(pk=job.pk).update(
            last_id=chunk.ids[-1],
            progress=F("progress") + len(chunk.ids),
            changed=F("changed") + chunk.changed,
            heartbeat_at=now,
        )
    return False


def _audit(job: BulkJob, action_or_kind, *, selected: int, changed: int, **extra) -> None:
    action = BULK_ACTIONS[action_or_kind] if isinstance(action_or_kind, str) else action_or_kind
    audit(
        action.audit_action,
        actor=job.created_by,
        selection=job.selection,
        changes=job.params,
        selected=selected,
        changed=changed,
        skipped=selected - changed,
        job=job.pk,
        **extra,
    )
    bulk_job_finished(job, action, changed=changed, failed=extra.get("failed", ""))


def _fail(job: BulkJob, token: str | None, reason: str, *, resumable: bool = False) -> bool:
    """Mark the job failed (if this run, or the reaper when `token` is None, still owns it)."""
    with transaction.atomic():
        owned = BulkJob.objects.select_for_update().filter(
            pk=job.pk, state__in=[BulkJob.State.PENDING, BulkJob.State.RUNNING]
        )
        if token is not None:
            owned = owned.filter(token=token)
        current = owned.first()
        if current is None:
            return False
        done = (  # no plural to get wrong: the count stands alone
            f"Cards changed before it stopped: {current.changed:,}; the rest were not."
            if current.progress
            else "No card was changed."
        )
        error = f"{reason} {done}"
        BulkJob.objects.filter(pk=job.pk).update(
            state=BulkJob.State.FAILED,
            error=error,
            token="",
            finished_at=timezone.now(),
            resumable=resumable,
        )
        if job.kind in BULK_ACTIONS:
            _audit(
                current,
                job.kind,
                selected=current.progress,
                changed=current.changed,
                failed=error,
            )
    return True


@dataclass(frozen=True)
class Reaping:
    """How `jobs_reap` treats one kind of job."""

    model: type[Job]
    # A running job whose heartbeat stopped: failed or queued again; the count it adds to.
    dead: Callable[[Job, datetime], str | None]
    # Queues a job queued long ago and never started (its task may be lost) once more.
    enqueue: Callable[[int], object] | None = None
    requeued: str = "requeued"  # the count a job queued again adds to
    resume: Callable[[datetime], int] | None = None  # jobs an outage stopped, queued again


def jobs_reap(*, now=None) -> dict[str, int]:
    """Deal with work whose worker died, every kind of job (REAPING) in one loop (see the
    module docstring); a duplicate task finds its job claimed or finished and does nothing.
    Idempotent. Returns how many of each it did (REAP_COUNTS)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.TOPUP_JOB_STALE_SECONDS)
    counts = dict.fromkeys(REAP_COUNTS, 0)
    for kind in REAPING:
        dead = kind.model.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=stale)
        for job in dead.select_related("created_by"):
            if counted := kind.dead(job, now):
                counts[counted] += 1
        if kind.enqueue is None:
            continue
        waiting = kind.model.objects.filter(state=Job.State.PENDING, heartbeat_at__lt=stale)
        for pk in waiting.values_list("pk", flat=True):
            with transaction.atomic():
                if waiting.filter(pk=pk).update(heartbeat_at=now):
                    transaction.on_commit(lambda pk=pk, enqueue=kind.enqueue: enqueue(pk))
                    counts[kind.requeued] += 1
        if kind.resume is not None:
            counts[kind.requeued] += kind.resume(now)
    return counts


def _series_dead(series: Series, now) -> str | None:
    """A series is all or nothing, so nothing was written: it fails, saying why."""
    with transaction.atomic():
        if Series.objects.filter(
            pk=series.pk, state=Series.State.RUNNING, heartbeat_at=series.heartbeat_at
        ).update(state=Series.State.FAILED, progress=0, error=SERIES_WORKER_DIED, finished_at=now):
            audit(
                AuditEvent.Action.SERIES_FAILED,
                actor=series.created_by,
                series=series.pk,
                error="reaped",
            )
            return "series_failed"
    return None


def _bulk_job_dead(job: BulkJob, now) -> str | None:
    """Queued again, to resume at its cursor, until it has run TOPUP_JOB_MAX_RUNS times."""
    if job.runs >= settings.TOPUP_JOB_MAX_RUNS:
        reason = f"Its worker stopped {job.runs} time(s) while running it."
        return "failed" if _fail(job, None, reason) else None
    with transaction.atomic():
        if BulkJob.objects.filter(
            pk=job.pk, state=BulkJob.State.RUNNING, heartbeat_at=job.heartbeat_at
        ).update(state=BulkJob.State.PENDING, token="", heartbeat_at=now):
            logger.warning("Bulk job %s: its worker died; queued again.", job.pk)
            transaction.on_commit(lambda: run_bulk_job.enqueue(job.pk))
            return "requeued"
    return None


@task()
def run_bulk_job(job_id: int) -> int:
    """The worker's half of a bulk action on a large selection; returns the cards changed.

    The task lives beside the service it runs, so that the services enqueue it without
    importing a module that imports them. It fails when the job failed.
    """
    job = bulk_job_run(job_id=job_id)
    if job.state == BulkJob.State.FAILED:
        raise JobFailed(f"Bulk job {job.pk} failed: {job.error}")
    return job.changed


def _bulk_jobs_resume(now) -> int:
    """Bulk jobs the database's absence stopped: queued again, within their run limit."""
    stopped = BulkJob.objects.filter(
        state=BulkJob.State.FAILED, resumable=True, runs__lt=settings.TOPUP_JOB_MAX_RUNS
    )
    resumed = 0
    for pk in stopped.values_list("pk", flat=True):
        with transaction.atomic():
            if stopped.filter(pk=pk).update(
                state=BulkJob.State.PENDING,
                resumable=False,
                error="",
                finished_at=None,
                heartbeat_at=now,
            ):
                logger.warning("Bulk job %s: stopped by a database outage; queued again.", pk)
                transaction.on_commit(lambda pk=pk: run_bulk_job.enqueue(pk))
                resumed += 1
    return resumed


# Every kind of job the reaper looks after, and what it counts.
REAPING = [
    Reaping(Series, _series_dead),
    Reaping(
        BulkJob,
        _bulk_job_dead,
        enqueue=lambda pk: run_bulk_job.enqueue(pk),
        resume=_bulk_jobs_resume,
    ),
    Reaping(
        SheetJob,
        sheet_job_dead,
        enqueue=lambda pk: render_sheet_job.enqueue(pk),
        requeued="sheets_requeued",
    ),
]
REAP_COUNTS = ("requeued", "failed", "series_failed", "sheets_failed", "sheets_requeued")
