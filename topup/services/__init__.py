"""What changes the state of series and cards, one module per workflow.

- `generation`: series requests, the guessing guard, numbering, the background fill.
- `bulk`: bulk actions (mass edit, delete; the extension point for more), export, PIN reveal.
- `jobs`: background bulk jobs and the reaper of dead workers' work.
- `redemption`: redeeming a PIN exactly once (also by support staff), the lockout, lifting it.
- `four_eyes`, `lifecycle`: the card's journey: four eyes, release from stock, void.
- `integrity`: the nightly and after-restore checks (summary, balances, card ledger rows).
- `outages`: all-or-nothing background work run again after a database outage.
- `printing`: PDF card sheets, print shops and the export encrypted to a shop's key.

Views, commands, tasks and tests import the functions from here.
"""

from .bulk import (
    BULK_ACTIONS,
    BulkAction,
    BulkBusy,
    BulkResult,
    Delete,
    MassEdit,
    MassEditResult,
    bulk_action,
    card_reveal_pin,
    cards_bulk_apply,
    cards_delete,
    cards_export_rows,
    cards_in_scope,
    cards_mass_update,
)
from .four_eyes import FourEyesRefused, four_eyes_check
from .generation import (
    GENERATION_LOCK,
    SeriesRequest,
    check_guessing_guard,
    live_cards_by_length,
    safe_pin_length,
    series_fill,
    series_generate,
    validate_series_request,
)
from .integrity import Difference, integrity_differences
from .jobs import JobFailed, bulk_job_resume, bulk_job_run, bulk_job_start, jobs_reap
from .keys import RotationResult, cards_to_rotate, pin_keys_rotate
from .lifecycle import Release, Void, cards_release, cards_void
from .outages import series_fill_through_outages, sheet_job_run_through_outages
from .printing import (
    DEFAULT_INSTRUCTION,
    OpenPGPError,
    PrintResult,
    SheetLayout,
    cards_export_csv,
    cards_export_encrypted,
    cards_print,
    csv_lines,
    print_shop_add,
    print_shop_delete,
    sheet_job_download,
    sheet_job_run,
    sheet_purge,
)
from .redemption import (
    Lockout,
    RedeemResult,
    active_lockouts,
    attempt_lock_sql,
    card_redeem,
    card_redeem_at_once,
    lockout_lift,
    lockout_retry_after,
    one_statement_supported,
    redemption_error_record,
)
from .retention import PurgeResult, cards_purge, purge_cutoff, purgeable
from .summary import (
    SUMMARY_KEY,
    SummaryDifference,
    counted_groups,
    summary_compact,
    summary_differences,
    summary_rebuild,
    summary_row_count,
)

__all__ = [
    "RotationResult",
    "cards_to_rotate",
    "pin_keys_rotate",
    "BULK_ACTIONS",
    "DEFAULT_INSTRUCTION",
    "OpenPGPError",
    "PrintResult",
    "SheetLayout",
    "cards_export_csv",
    "cards_export_encrypted",
    "cards_print",
    "csv_lines",
    "print_shop_add",
    "print_shop_delete",
    "sheet_job_download",
    "sheet_job_run",
    "sheet_job_run_through_outages",
    "Difference",
    "integrity_differences",
    "series_fill_through_outages",
    "sheet_purge",
    "FourEyesRefused",
    "GENERATION_LOCK",
    "JobFailed",
    "BulkAction",
    "BulkBusy",
    "BulkResult",
    "Delete",
    "Lockout",
    "Release",
    "MassEdit",
    "MassEditResult",
    "RedeemResult",
    "SUMMARY_KEY",
    "PurgeResult",
    "SeriesRequest",
    "Void",
    "SummaryDifference",
    "active_lockouts",
    "attempt_lock_sql",
    "bulk_action",
    "bulk_job_resume",
    "bulk_job_run",
    "bulk_job_start",
    "card_redeem",
    "card_redeem_at_once",
    "card_reveal_pin",
    "cards_bulk_apply",
    "cards_delete",
    "cards_export_rows",
    "cards_in_scope",
    "cards_mass_update",
    "cards_purge",
    "cards_release",
    "cards_void",
    "check_guessing_guard",
    "four_eyes_check",
    "jobs_reap",
    "live_cards_by_length",
    "lockout_lift",
    "lockout_retry_after",
    "one_statement_supported",
    "purge_cutoff",
    "purgeable",
    "redemption_error_record",
    "safe_pin_length",
    "series_fill",
    "series_generate",
    "counted_groups",
    "summary_compact",
    "summary_differences",
    "summary_rebuild",
    "summary_row_count",
    "validate_series_request",
]
