"""Work for the task worker (`manage.py db_worker`). A task fails when its job failed."""

from django_tasks import task

from config.db_faults import with_reconnect

from . import services
from .models import BulkJob, Series


@task()
def fill_series(series_id: int) -> int:
    """Background half of `series_generate` for large series."""
    series = services.series_fill_through_outages(series_id=series_id)
    if series.state == Series.State.FAILED:
        raise services.JobFailed(f"Series {series.pk} failed: {series.error}")
    return series.progress


@task()
def run_bulk_job(job_id: int) -> int:
    """A bulk action on a large selection (see topup/services/jobs.py); returns cards changed."""
    job = services.bulk_job_run(job_id=job_id)
    if job.state == BulkJob.State.FAILED:
        raise services.JobFailed(f"Bulk job {job.pk} failed: {job.error}")
    return job.changed


@task()
def compact_summary() -> int:
    """Fold the card summary's delta rows (enqueued when reads find many of them)."""
    # One transaction that folds what it sees: run again whole after an outage.
    return with_reconnect(services.summary_compact, what="Summary compaction")


@task()
def render_sheet_job(job_id: int) -> int:
    """Background half of `cards_print` for large sheets."""
    return services.sheet_job_run_through_outages(job_id=job_id).progress


@task()
def purge_sheet_job(job_id: int) -> int:
    """Wipe a finished sheet nobody downloaded in time."""
    return services.sheet_purge(job_id=job_id)
