"""What changes the state of series and cards, one module per workflow.

- `generation`: series requests, the guessing guard, numbering, the background fill.
- `bulk`: bulk actions (mass edit, delete; the extension point for more), export, PIN reveal.
- `jobs`: background bulk jobs and the reaper of dead workers' work.
- `redemption`: redeeming a PIN exactly once (also by support staff), the lockout, lifting it.
- `four_eyes`, `lifecycle`: the card's journey: four eyes, release from stock, void.
- `epins`: selling e-PINs on demand (a stock series' released cards, or one made for the
  sale), voiding a sale; `epin_products`: the products operators define.
- `printing`: PDF card sheets (now or as a job), the exports, print shops and their keys.
- `integrity`: the nightly and after-restore checks (summary, balances, card ledger rows).
- `outages`: all-or-nothing background work run again after a database outage.

Views, commands, other apps and tests import the functions from here; the modules import
each other directly, never through here.
"""

from .bulk.actions import BULK_ACTIONS, BulkResult, Delete, MassEdit
from .bulk.apply import cards_delete, cards_mass_update
from .bulk.reveal import card_reveal_pin, cards_export_rows
from .epin_products import epin_product_save
from .epins import OutOfStock, Sold, card_pin, epin_sale_void, epin_sell
from .four_eyes import FourEyes, FourEyesRefused, four_eyes_check
from .generation import (
    SeriesRequest,
    check_guessing_guard,
    live_cards_by_length,
    next_numbers,
    series_fill,
    series_generate,
)
from .integrity import integrity_differences
from .jobs import bulk_job_resume, jobs_reap
from .keys import cards_to_rotate, pin_keys_rotate
from .labels import series_describe
from .lifecycle import Release, Void, cards_release, cards_void
from .printing.exports import cards_export_csv, cards_export_encrypted, csv_lines, csv_text
from .printing.jobs import cards_print, sheet_job_download, sheet_purge
from .printing.sheets import DEFAULT_INSTRUCTION, SheetLayout
from .printing.shops import print_shop_add, print_shop_delete
from .redemption import (
    Credit,
    IdempotencyClaim,
    Lockout,
    RedeemOutcome,
    RedeemResult,
    active_lockouts,
    card_redeem,
    lockout_lift,
    lockout_retry_after,
)
from .retention import cards_purge, purge_cutoff, purgeable
from .summary import (
    SUMMARY_KEY,
    summary_compact,
    summary_differences,
    summary_rebuild,
    summary_row_count,
)

__all__ = [
    "OutOfStock",
    "Sold",
    "card_pin",
    "epin_product_save",
    "epin_sale_void",
    "epin_sell",
    "series_describe",
    "next_numbers",
    "csv_text",
    "cards_to_rotate",
    "pin_keys_rotate",
    "BULK_ACTIONS",
    "DEFAULT_INSTRUCTION",
    "SheetLayout",
    "cards_export_csv",
    "cards_export_encrypted",
    "cards_print",
    "csv_lines",
    "print_shop_add",
    "print_shop_delete",
    "sheet_job_download",
    "sheet_purge",
    "FourEyes",
    "FourEyesRefused",
    "BulkResult",
    "Delete",
    "Lockout",
    "Release",
    "MassEdit",
    "Credit",
    "IdempotencyClaim",
    "RedeemOutcome",
    "RedeemResult",
    "SUMMARY_KEY",
    "SeriesRequest",
    "Void",
    "active_lockouts",
    "card_redeem",
    "card_reveal_pin",
    "cards_delete",
    "cards_export_rows",
    "cards_mass_update",
    "cards_purge",
    "cards_release",
    "cards_void",
    "check_guessing_guard",
    "four_eyes_check",
    "jobs_reap",
    "bulk_job_resume",
    "integrity_differences",
    "live_cards_by_length",
    "lockout_lift",
    "lockout_retry_after",
    "purge_cutoff",
    "purgeable",
    "series_fill",
    "series_generate",
    "summary_compact",
    "summary_differences",
    "summary_rebuild",
    "summary_row_count",
]
