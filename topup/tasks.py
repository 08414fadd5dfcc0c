"""The paths of the tasks as versions before 2026-12 queued them (`topup.tasks.<name>`).

Each task now lives beside the service it runs. The worker finds a queued task by the path
stored with it, so a task queued before an upgrade and run after it resolves through here.
Nothing imports this module; delete it once no such task can be waiting.
"""

from .services.generation import fill_series
from .services.jobs import run_bulk_job
from .services.printing.jobs import purge_sheet_job, render_sheet_job
from .services.summary import compact_summary

__all__ = ["compact_summary", "fill_series", "purge_sheet_job", "render_sheet_job", "run_bulk_job"]
