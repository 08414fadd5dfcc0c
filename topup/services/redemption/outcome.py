"""What a redemption answers: one outcome of a closed set, and the values shown with it."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class RedeemOutcome(StrEnum):
    """How a redemption ended. A StrEnum, so `outcome == "success"` still reads true."""

    SUCCESS = "success"  # credited now
    ALREADY = "already"  # credited to this account before; nothing added
    FAILED = "failed"  # refused; counts against the lockout
    LOCKED = "locked"  # the lockout holds: the PIN was not looked at
    HELD = "held"  # an answer is stored for this idempotency key: nothing evaluated


@dataclass(frozen=True)
class RedeemResult:
    """What the customer is told. `reason` is for the attempt log only, never shown."""

    outcome: RedeemOutcome
    amount: Decimal | None = None
    balance: Decimal | None = None
    card_number: str = ""
    reason: str = ""
    retry_after: int = 0


HELD = RedeemResult(outcome=RedeemOutcome.HELD)
