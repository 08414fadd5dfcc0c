"""Why a PIN did not credit an account: the reason for the attempt log, never shown.

Looked up only after the crediting statement changed nothing, so it costs nothing on the
common path. The customer is told one generic refusal (or "already credited to you").
"""

from decimal import Decimal

from billing.models import Account

from ...models import Card
from .outcome import RedeemOutcome, RedeemResult

# The reason when the card looked redeemable after all: it changed between the crediting
# statement and this look (released a moment ago, say); the caller tries the credit once more.
NOT_REDEEMABLE = "not_redeemable"


def refusal(
    *, account: Account, digests: list[str] | None, owners: list[int], balance: Decimal
) -> RedeemResult:
    """Why the PIN did not credit this account: already credited to it, or refused."""
    if digests is None:
        return RedeemResult(outcome=RedeemOutcome.FAILED, reason="malformed")
    card = Card.objects.with_refusal().filter(pin_digest__in=digests).first()
    if card is None:
        return RedeemResult(outcome=RedeemOutcome.FAILED, reason="unknown")
    own = card.activated_by_id == account.pk
    return RedeemResult(
        outcome=RedeemOutcome.ALREADY if own else RedeemOutcome.FAILED,
        reason=refusal_reason(card, account, owners),
        card_number=card.number,
        amount=card.amount if own else None,
        balance=balance if own else None,
    )


def refusal_reason(card: Card, account: Account, owners: list[int]) -> str:
    """The reason of the attempt log. The card's own state is judged in SQL by the rule that
    also gates the credit (`Card.objects.with_refusal`, from `NOT_REDEEMABLE_BECAUSE`); what
    depends on the account (whose card, which currency) is judged here."""
    if card.refusal == "activated":
        return "already_own" if card.activated_by_id == account.pk else "used_by_other"
    if card.refusal is not None:
        return card.refusal
    if card.reseller_id not in owners:
        return "foreign_reseller"
    if card.currency != account.currency:
        return "foreign_currency"
    return NOT_REDEEMABLE
