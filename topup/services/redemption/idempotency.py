"""The typed hook through which the redemption writes an API call's idempotency record.

topup knows nothing of the API: the API passes its record's model and the answers it stores
per outcome; the redemption writes the record in the same transaction as what it answers
(for a credit, in the crediting statement itself: `statement.py` builds that SQL from the
model's metadata), and holds back (HELD) a call whose key already has a stored answer.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.db.models import Model

from .outcome import RedeemOutcome, RedeemResult


class Credit(StrEnum):
    """A value of a credit that only the crediting statement knows, for a stored answer."""

    AMOUNT = "amount"
    BALANCE = "balance"
    CARD = "card"
    CURRENCY = "currency"


# A stored answer: the status and a body whose values are text or a `Credit` value.
AnswerTemplate = tuple[int, Mapping[str, "str | Credit"]]


@dataclass(frozen=True)
class IdempotencyClaim:
    """An API call's idempotency key: its answer is stored once, and a retry replays it.

    `record` is the model of the stored answers, with the fields `api_key` (a foreign key),
    `key`, `fingerprint`, `status_code`, `body` (JSON) and `created_at`; `answers` maps each
    outcome worth storing to its status and body (LOCKED and HELD are never stored: nothing
    was evaluated). The redemption writes the record in the same transaction as what it
    answers (for a credit, in the crediting statement itself, so a credit costs no statement
    more), and holds back (HELD) a call whose key already has a stored answer. topup writes
    the API's rows from these typed values without knowing the API: the model and the answer
    shapes are the API's.
    """

    record: type[Model]
    api_key_id: int
    key: str
    fingerprint: str
    created_at: datetime
    answers: Mapping[RedeemOutcome, AnswerTemplate]

    def answer(self, result: RedeemResult, currency: str) -> tuple[int, dict] | None:
        """The status and body stored for `result` (None: not stored)."""
        template = self.answers.get(result.outcome)
        if template is None:
            return None
        status, body = template
        values = {
            Credit.AMOUNT: f"{result.amount:.2f}" if result.amount is not None else None,
            Credit.BALANCE: f"{result.balance:.2f}" if result.balance is not None else None,
            Credit.CARD: result.card_number,
            Credit.CURRENCY: currency,
        }
        return status, {
            name: values[value] if isinstance(value, Credit) else value
            for name, value in body.items()
        }

    def is_answered(self) -> bool:
        """Whether an answer is stored (committed) for this idempotency key."""
        return self.record._default_manager.filter(
            api_key_id=self.api_key_id, key=self.key
        ).exists()

    def store(self, result: RedeemResult, currency: str) -> None:
        """Store the answer to an evaluated result that did not credit (a credit's answer is
        written by its statement)."""
        answer = self.answer(result, currency)
        if answer is not None:
            self.record._default_manager.create(
                api_key_id=self.api_key_id,
                key=self.key,
                fingerprint=self.fingerprint,
                status_code=answer[0],
                body=answer[1],
                created_at=self.created_at,
            )
