"""Whole-or-nothing background work run again after a database outage.

A series is written in one transaction and a card sheet is rendered before anything of it is
stored, so either, stopped by a lost connection, a failover or a statement timeout
(`config.db_faults.outage`), has left nothing behind but its claim (state running). Here the
claim is handed back (running -> pending) on a new connection once the database answers, and
the work runs again from the start, up to DB_OUTAGE_RESTARTS times. A commit whose fate was
unknown is found: the work's own final write (state done) is in it, so there is nothing to
hand back and the rerun returns the finished work. When the database stays away longer than
DB_OUTAGE_RETRY_SECONDS the claim stays, and the reaper fails the work with its reason
(`jobs_reap`), which the user then starts again.

The chunked work (bulk jobs, retention, key rotation) resumes instead: see jobs.py and
`with_reconnect`.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import Error

from config.db_faults import drop_broken_connections, outage, with_reconnect

from ..models import Series, SheetJob
from .generation import series_fill
from .printing import sheet_job_run

logger = logging.getLogger(__name__)
T = TypeVar("T")


def rerun_after_outages(run: Callable[[], T], *, hand_back: Callable[[], object], what: str) -> T:
    """`run()`; after an outage, `hand_back()` (once the database answers) and run again."""
    restarts = settings.DB_OUTAGE_RESTARTS
    for attempt in range(restarts + 1):
        try:
            return run()
        except Error as exc:
            reason = outage(exc)
            if reason is None or attempt == restarts:
                raise
            logger.warning("%s: %s; starting it again (%s)", what, reason, exc)
        drop_broken_connections()  # every one: the progress connection may be the broken one
        with_reconnect(hand_back, what=what)
    raise AssertionError("unreachable")  # the loop returns or raises


def series_fill_through_outages(*, series_id: int) -> Series:
    """`series_fill`, all or nothing, run again after a database outage (see above)."""
    return rerun_after_outages(
        lambda: series_fill(series_id=series_id),
        hand_back=lambda: Series.objects.filter(pk=series_id, state=Series.State.RUNNING).update(
            state=Series.State.PENDING, progress=0
        ),
        what=f"Series {series_id}",
    )


def sheet_job_run_through_outages(*, job_id: int) -> SheetJob:
    """`sheet_job_run`, run again from its first page after a database outage."""
    return rerun_after_outages(
        lambda: sheet_job_run(job_id=job_id),
        hand_back=lambda: SheetJob.objects.filter(pk=job_id, state=SheetJob.State.RUNNING).update(
            state=SheetJob.State.PENDING, progress=0
        ),
        what=f"Card sheet {job_id}",
    )
