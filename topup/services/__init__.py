"""What changes the state of series and cards, one module per workflow.

- `generation`: series requests, the guessing guard, numbering, the background fill.
- `bulk`: mass edit, delete, export and PIN reveal.
- `redemption`: redeeming a PIN exactly once, the lockout and lifting it.

Views, commands, tasks and tests import the functions from here.
"""

from .bulk import (
    MassEdit,
    MassEditResult,
    card_reveal_pin,
    cards_delete,
    cards_export_rows,
    cards_in_scope,
    cards_mass_update,
)
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
from .redemption import (
    Lockout,
    RedeemResult,
    active_lockouts,
    card_redeem,
    lockout_lift,
    lockout_retry_after,
    redemption_error_record,
)

__all__ = [
    "GENERATION_LOCK",
    "Lockout",
    "MassEdit",
    "MassEditResult",
    "RedeemResult",
    "SeriesRequest",
    "active_lockouts",
    "card_redeem",
    "card_reveal_pin",
    "cards_delete",
    "cards_export_rows",
    "cards_in_scope",
    "cards_mass_update",
    "check_guessing_guard",
    "live_cards_by_length",
    "lockout_lift",
    "lockout_retry_after",
    "redemption_error_record",
    "safe_pin_length",
    "series_fill",
    "series_generate",
    "validate_series_request",
]
