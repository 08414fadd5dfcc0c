"""Printing a selection: small sheets in the request, large ones by the task worker.

A large sheet is a SheetJob rendered in chunks with progress, kept only sealed in the
database until it is downloaded once or expires (docs/printing.md says why).
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django_tasks import task

from config.db_faults import outage, rerun_after_outages
from locales.formats import number
from resellers.models import AuditEvent, audit

from ...models import Card, SheetJob, audit_cards, card_runs
from ...pins import pin_service
from ..bulk.reveal import cards_with_pins
from ..four_eyes import FourEyes, four_eyes_check
from .sheets import SheetLayout, render_sheet

SHEET_FIELDS = ("amount", "currency", "expires_at", "reseller__name")


@dataclass(frozen=True)
class PrintResult:
    """Either the PDF itself (a small sheet) or the job the worker renders (a large one)."""

    pdf: bytes | None = None
    job: SheetJob | None = None
    count: int = 0
    pages: int = 0


def cards_print(
    *, user, cards, selection: dict, layout: SheetLayout, background: bool | None = None
) -> PrintResult:
    """A PDF sheet of the cards (a queryset) in the user's scope, ordered by serial number.

    Needs the export right and obeys four eyes. Sheets above PRINT_SHEET_BACKGROUND_THRESHOLD
    cards (or with `background=True`) become a SheetJob for the task worker; at most
    PRINT_SHEET_MAX_CARDS cards per sheet (larger print runs go to the print shop as an
    encrypted export). Audited like an export (each card's history shows it), before any PIN
    is decrypted. Raises ValidationError for a bad layout, a selection or four eyes,
    PermissionDenied without the right.
    """
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    layout = layout.validate()
    cards = cards.visible_to(user).order_by("number")
    ids = list(cards.values_list("pk", flat=True)[: settings.PRINT_SHEET_MAX_CARDS + 1])
    if not ids:
        raise ValidationError(_("There are no cards to print in this selection."), code="empty")
    if len(ids) > settings.PRINT_SHEET_MAX_CARDS:
        raise ValidationError(
            _(
                "A sheet holds at most %(most)s cards. Narrow the selection (a serial range), "
                "or send the cards to the print shop as an encrypted export."
            ),
            code="too_many",
            params={"most": number(settings.PRINT_SHEET_MAX_CARDS)},
        )
    four_eyes_check(user=user, cards=cards, action=FourEyes.PRINT)
    count = len(ids)
    pages = math.ceil(count / layout.per_page)
    if background is None:
        background = count > settings.PRINT_SHEET_BACKGROUND_THRESHOLD
    with transaction.atomic():
        job = None
        if background:
            _purge_expired_sheets()
            job = SheetJob.objects.create(
                created_by=user,
                card_ids=ids,
                layout=layout.describe(),
                language=layout.printed_language,
                total=count,
                heartbeat_at=timezone.now(),
            )
            transaction.on_commit(lambda: render_sheet_job.enqueue(job.pk))
        audit_cards(
            AuditEvent.Action.CARDS_PRINTED,
            actor=user,
            runs=card_runs(ids)[0],
            selection=selection,
            count=count,
            pages=pages,
            layout={k: v for k, v in layout.describe().items() if k != "link"},
            job=job.pk if job else None,
        )
    if job is not None:
        return PrintResult(job=job, count=count, pages=pages)
    rows = cards_with_pins(Card.objects.filter(pk__in=ids).order_by("number"), *SHEET_FIELDS)
    return PrintResult(pdf=render_sheet(rows, layout), count=count, pages=pages)


def sheet_job_run(*, job_id: int) -> SheetJob:
    """Render a SheetJob (the task worker's half of `cards_print`).

    Progress is saved after every few pages. The cards are those chosen when the job was
    made, narrowed again to its owner's scope now. The PDF is kept sealed under the PIN key
    until it is downloaded or PRINT_SHEET_TTL seconds pass.
    """
    job = SheetJob.objects.select_related("created_by").get(pk=job_id)
    if job.state != SheetJob.State.PENDING:
        return job
    claimed = SheetJob.objects.filter(pk=job.pk, state=SheetJob.State.PENDING).update(
        state=SheetJob.State.RUNNING, runs=F("runs") + 1, heartbeat_at=timezone.now()
    )
    if not claimed:
        return job  # another run took it
    try:
        layout = SheetLayout(**{**job.layout, "language": job.language}).validate()
        cards = Card.objects.visible_to(job.created_by).filter(pk__in=job.card_ids)
        rows = cards_with_pins(cards.order_by("number"), *SHEET_FIELDS)

        def progress(done: int) -> None:
            SheetJob.objects.filter(pk=job.pk).update(progress=done, heartbeat_at=timezone.now())

        pdf = render_sheet(rows, layout, progress=progress)
        version, sealed = pin_service.seal(pdf, _sheet_context(job))
        del pdf
        pages = math.ceil(job.total / layout.per_page)
        expires_at = timezone.now() + timedelta(seconds=settings.PRINT_SHEET_TTL)
        SheetJob.objects.filter(pk=job.pk).update(
            state=SheetJob.State.DONE,
            result=sealed,
            result_key_version=version,
            pages=pages,
            expires_at=expires_at,
            finished_at=timezone.now(),
        )
        _schedule_purge(job.pk, expires_at)
    except Exception as exc:
        if outage(exc):
            raise  # nothing was stored; render_sheet_job renders it again (rerun_after_outages)
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        SheetJob.objects.filter(pk=job.pk).update(
            state=SheetJob.State.FAILED, error=message, finished_at=timezone.now()
        )
        if not isinstance(exc, ValidationError):
            raise
    job.refresh_from_db()
    return job


def sheet_job_download(*, user, job: SheetJob) -> Iterator[bytes]:
    """The finished PDF of the user's own job, in chunks; the sealed copy is wiped once the
    last chunk has been sent. Raises ValidationError when it is not (or no longer) there."""
    if not user.has_perm("topup.reveal_pin") or job.created_by_id != user.pk:
        raise PermissionDenied
    _purge_expired_sheets()
    job.refresh_from_db()
    if job.state != SheetJob.State.DONE or job.result is None:
        raise ValidationError(
            _("This sheet is not ready, or was already downloaded or expired: print it again."),
            code="gone",
        )
    pdf = pin_service.unseal(job.result, job.result_key_version, _sheet_context(job))
    with transaction.atomic():
        audit(AuditEvent.Action.SHEET_DOWNLOADED, actor=user, job=job.pk, count=job.total)
    return _stream_once(job.pk, pdf)


def _stream_once(job_id: int, pdf: bytes, chunk: int = 256 * 1024) -> Iterator[bytes]:
    view = memoryview(pdf)
    for start in range(0, len(view), chunk):
        yield bytes(view[start : start + chunk])
    _wipe(SheetJob.objects.filter(pk=job_id))


def _sheet_context(job: SheetJob) -> str:
    return f"topup.sheet:{job.pk}"


def _wipe(jobs) -> int:
    return jobs.filter(state=SheetJob.State.DONE).update(
        state=SheetJob.State.GONE, result=None, result_key_version=None
    )


def _purge_expired_sheets() -> int:
    return _wipe(SheetJob.objects.filter(expires_at__lte=timezone.now()))


def sheet_purge(*, job_id: int) -> int:
    """Wipe a finished sheet whose time is up (the worker runs this when it expires)."""
    return _wipe(SheetJob.objects.filter(pk=job_id, expires_at__lte=timezone.now()))


# Stored on the job as written (an English msgid): the sheet's page shows it translated.
SHEET_WORKER_DIED = gettext_noop(
    "The worker stopped while rendering this sheet. Print the cards again."
)


def sheet_job_dead(job: SheetJob, now) -> str | None:
    """A sheet whose worker died (for `jobs_reap`): nothing is kept before the end, so it
    fails, saying why; the user prints the cards again."""
    if SheetJob.objects.filter(
        pk=job.pk, state=SheetJob.State.RUNNING, heartbeat_at=job.heartbeat_at
    ).update(state=SheetJob.State.FAILED, error=SHEET_WORKER_DIED, finished_at=now):
        return "sheets_failed"
    return None


def _schedule_purge(job_id: int, when) -> None:
    if purge_sheet_job.get_backend().supports_defer:
        purge_sheet_job.using(run_after=when).enqueue(job_id)


# The worker's half. A task lives beside the service it runs, so that the services enqueue
# it without importing a module that imports them.
@task()
def render_sheet_job(job_id: int) -> int:
    """Background half of `cards_print` for large sheets."""
    job = rerun_after_outages(  # nothing is stored before the end: after an outage, again
        lambda: sheet_job_run(job_id=job_id),
        hand_back=lambda: SheetJob.objects.filter(pk=job_id, state=SheetJob.State.RUNNING).update(
            state=SheetJob.State.PENDING, progress=0
        ),
        what=f"Card sheet {job_id}",
    )
    return job.progress


@task()
def purge_sheet_job(job_id: int) -> int:
    """Wipe a finished sheet nobody downloaded in time."""
    return sheet_purge(job_id=job_id)
