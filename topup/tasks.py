from django_tasks import task

from . import services


@task()
def fill_series(series_id: int) -> int:
    """Background half of `series_generate` for large series (run by `manage.py db_worker`)."""
    return services.series_fill(series_id=series_id).progress


@task()
def compact_summary() -> int:
    """Fold the card summary's delta rows (enqueued when reads find many of them)."""
    return services.summary_compact()
