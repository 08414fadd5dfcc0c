"""Work for the task worker (`manage.py db_worker`). A task fails when its job failed."""

from django_tasks import task

from . import services
from .models import Series


@task()
def fill_series(series_id: int) -> int:
    """Background half of `series_generate` for large series."""
    series = services.series_fill(series_id=series_id)
    if series.state == Series.State.FAILED:
        raise services.JobFailed(f"Series {series.pk} failed: {series.error}")
    return series.progress


@task()
def compact_summary() -> int:
    """Fold the card summary's delta rows (enqueued when reads find many of them)."""
    return services.summary_compact()
