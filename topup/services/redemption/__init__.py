"""Redeeming a PIN for an account, exactly once, behind the database lockout.

- `outcome`: what a redemption answers (`RedeemOutcome`, `RedeemResult`).
- `statement`: the redemption's SQL, its one owner: the attempt locks and the crediting
  statement; the typed values callers pass (`Redemption`, `IdempotencyClaim`); the lock order.
- `lockout`: the rules, who is locked out until when, lifting.
- `refusals`: why a PIN did not credit, for the attempt log.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.views.decorators.debug import sensitive_variables

from billing.models import Account
from config.client_address import address_key
from resellers.scoping import reseller_ids_visible_to

from ...models import AuditEvent, RedemptionAttempt, audit
from ...pins import InvalidPin, pin_service
from . import statement
from .lockout import (
    Lockout,
    active_lockouts,
    failures_since,
    lockout_lift,
    lockout_retry_after,
)
from .outcome import HELD, RedeemOutcome, RedeemResult
from .refusals import NOT_REDEEMABLE, refusal
from .statement import AnswerTemplate, Credit, IdempotencyClaim, Redemption

__all__ = [
    "AnswerTemplate",
    "Credit",
    "IdempotencyClaim",
    "Lockout",
    "RedeemOutcome",
    "RedeemResult",
    "active_lockouts",
    "card_redeem",
    "lockout_lift",
    "lockout_retry_after",
]


def _check_support(*, user, account: Account, note: str) -> str:
    """Staff redeeming for a customer: the right, the account in scope, a note. Returns it."""
    if not user.has_perm("topup.redeem_for_customer"):
        raise PermissionDenied
    if account.reseller_id not in reseller_ids_visible_to(user):
        raise ValidationError({"account": "No such account in your part of the tree."})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say why you redeem this card for the customer."})
    return note


@sensitive_variables("typed_pin", "pin")
def _digests(typed_pin: str) -> list[str] | None:
    """The digests to look a typed PIN up by, or None for one that cannot be a PIN: the
    current key's and, while the digest key is being rotated, the previous one's (one
    statement looks for both, so a card moved meanwhile is still found)."""
    try:
        pin = pin_service.normalise(typed_pin)
        pin_service.check_length(len(pin))
        return pin_service.digests(pin)
    except InvalidPin:
        return None


@sensitive_variables("typed_pin")
def card_redeem(
    *,
    account: Account,
    typed_pin: str,
    client_address: str,
    user=None,
    note: str = "",
    api_key: str = "",
    idempotency: IdempotencyClaim | None = None,
) -> RedeemResult:
    """Redeem a PIN for `account`: exactly once, whatever runs in parallel.

    `user` is the customer's own user, or none (the API); or a staff user redeeming for the
    customer (support, the PIN read over the phone), who needs the right, the account in
    their scope and a `note`: then the attempt, the ledger row and the audit name them both.
    `api_key` is the public id of the API key of an API call, `idempotency` its claim: its
    answer is stored with what it answers, and a call whose answer is stored already is HELD
    (nothing evaluated; the caller replays the stored answer).

    Guarantees: a card moves from new to activated only if this account may redeem it (owner
    is the account's reseller or an ancestor, same currency), and only then is the account
    credited, through the ledger, whose unique reference makes a second credit of one card
    impossible; the attempt and its audit row are recorded with it. A locked-out request is
    refused with a wait (LOCKED), its PIN never looked at, and no more failures are evaluated
    than the lockout allows, across processes and servers. A refusal's result never says why.
    An IPv6 address is counted with its /64.

    An API call first tries one autocommitted statement without the key's lock (`_at_once`);
    anything it does not credit, and every web call, goes the locked way (`_redeem_locked`).
    An error leaves nothing of the attempt but a failure, which counts against the lockout.
    """
    staff = None
    if user is not None and user.pk != account.user_id:
        note = _check_support(user=user, account=account, note=note)
        staff = user
    else:
        note = ""
    redemption = Redemption(
        account=account,
        digests=_digests(typed_pin),
        owners=account.reseller.ancestors_and_self(),
        address=client_address,
        network=address_key(client_address),
        api_key=api_key,
        user=user,
        staff=staff,
        note=note,
        idempotency=idempotency,
    )
    if api_key and redemption.digests is not None:
        result = _at_once(redemption)
        if result is not None:
            return result
    try:
        with transaction.atomic():
            result = _redeem_locked(redemption)
    except IntegrityError:
        if idempotency is not None and statement.answer_stored(idempotency):
            # Another request under this idempotency key answered first (one client, two
            # requests at once): this one rolled back whole; the caller replays that answer.
            return HELD
        _error_record(redemption)
        raise
    except Exception:
        _error_record(redemption)
        raise
    if result.outcome == RedeemOutcome.FAILED:
        # Whatever went wrong, the customer learns nothing about which PINs exist.
        return RedeemResult(outcome=RedeemOutcome.FAILED)
    return result


def _at_once(redemption: Redemption) -> RedeemResult | None:
    """The common case of an API redemption in one statement, without the client's lock:
    its success (or HELD), else None, and then the locked way decides.

    The locked way serialises all calls of one API key on the key's attempt lock, which keeps
    the key's lockout exact; but a gateway sends all its customers' calls with one key, so
    its credits would queue one behind the other (and behind each commit's disk flush). Only
    failures count against a lockout, and this statement can only credit: outside any
    transaction (autocommit) it locks the account's row, then credits the card exactly like
    the locked way's statement, only if the account and the key have no live failure at all
    (a locked-out client's PIN is never looked at) and no answer is stored for the claim. A PIN
    that does not credit changes nothing here and goes the locked way, where it is counted
    before it is evaluated again; failures are written only there, one at a time, so the count
    stays exact. A statement that fails on a unique index (the claim's record, say) changed
    nothing: None.
    """
    try:
        if connection.in_atomic_block:  # a caller's transaction (tests): a savepoint
            with transaction.atomic():
                opened, activated = statement.credit(
                    redemption, failures_since=failures_since(), lock_account=True
                )
        else:  # one statement, one transaction: no BEGIN and COMMIT round trips
            opened, activated = statement.credit(
                redemption, failures_since=failures_since(), lock_account=True
            )
    except IntegrityError:
        return None
    if opened is None:
        return HELD
    return activated


def _redeem_locked(redemption: Redemption) -> RedeemResult:
    """In the caller's transaction, under the account's row lock and the client's attempt
    lock (`statement.lock_attempts`): the failures are counted, the PIN evaluated and the
    attempt recorded, one attempt of this account and of this client at a time. The common
    case (no live failure, a card credited) is one statement after the locks."""
    account = redemption.account
    balance = statement.lock_attempts(redemption)
    retry_after = {
        "account_id": account.pk,
        "address": redemption.network,
        "api_key": redemption.api_key,
    }
    if redemption.digests is not None:
        opened, activated = statement.credit(redemption, failures_since=failures_since())
        if opened is None:
            return HELD
        if not opened:  # live failures: apply the rules, then evaluate if not locked out
            if wait := lockout_retry_after(**retry_after):
                return RedeemResult(outcome=RedeemOutcome.LOCKED, retry_after=wait)
            _, activated = statement.credit(redemption, failures_since=None)
        if activated is not None:
            return activated
    else:
        if redemption.idempotency and statement.answer_stored(redemption.idempotency):
            return HELD
        if wait := lockout_retry_after(**retry_after):
            return RedeemResult(outcome=RedeemOutcome.LOCKED, retry_after=wait)
    refused = refusal(
        account=account, digests=redemption.digests, owners=redemption.owners, balance=balance
    )
    if refused.reason == NOT_REDEEMABLE:
        # Nothing stands in its way now: it changed between the two statements (released a
        # moment ago, say). Try once more; the UPDATE decides on the row as it is now.
        _, activated = statement.credit(redemption, failures_since=None)
        if activated is not None:
            return activated
        refused = refusal(
            account=account, digests=redemption.digests, owners=redemption.owners, balance=balance
        )
    _record(redemption, refused)
    return refused


def _record(redemption: Redemption, result: RedeemResult) -> None:
    """The attempt that did not credit, its audit row (a failure) and the claim's answer."""
    staff = redemption.staff
    RedemptionAttempt.objects.create(
        account=redemption.account,
        client_address=redemption.address,
        client_network=redemption.network,
        api_key=redemption.api_key,
        outcome=result.outcome,
        reason=result.reason,
        card_number=result.card_number,
        staff=staff,
        note=redemption.note if staff else "",
    )
    if result.outcome == RedeemOutcome.FAILED:
        audit(
            AuditEvent.REDEMPTION_FAILED,
            actor=redemption.user,
            account=redemption.account.pk,
            reason=result.reason,
            card=result.card_number,
            address=redemption.address,
            **({"api_key": redemption.api_key} if redemption.api_key else {}),
            **({"note": redemption.note} if staff else {}),
        )
    if redemption.idempotency is not None:
        statement.answer_store(redemption.idempotency, result, redemption.account.currency)


def _error_record(redemption: Redemption) -> None:
    """An attempt that ended in an error: nothing of it survived the rollback, yet it counts
    against the lockout."""
    RedemptionAttempt.objects.create(
        account=redemption.account,
        client_address=redemption.address,
        client_network=redemption.network,
        api_key=redemption.api_key,
        outcome=RedemptionAttempt.Outcome.FAILED,
        reason="error",
        staff=redemption.staff,
    )
