"""Redeeming a PIN for an account, exactly once, behind the database lockout.

- `outcome`: what a redemption answers (`RedeemOutcome`, `RedeemResult`).
- `statement`: the redemption's SQL, its one owner: the attempt locks and the crediting
  statement, built from typed values (`Redemption`); the lock order.
- `idempotency`: the typed hook for the API's idempotency record (`IdempotencyClaim`).
- `lockout`: the rules, reserving a failure slot, who is locked out until when, lifting.
- `refusals`: why a PIN did not credit, for the attempt log.
"""

import sys

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from billing.models import Account
from config.client_address import address_key
from config.db_faults import drop_broken_connections, outage
from config.metrics import redemption_counted
from resellers.models import AuditEvent, audit
from resellers.scoping import reseller_ids_visible_to

from ...models import RedemptionAttempt
from ...pins import InvalidPin, pin_service
from . import statement
from .idempotency import AnswerTemplate, Credit, IdempotencyClaim
from .lockout import (
    Lockout,
    active_lockouts,
    failure_reserve,
    gate_limits,
    lockout_lift,
    lockout_retry_after,
)
from .outcome import HELD, RedeemOutcome, RedeemResult
from .refusals import NOT_REDEEMABLE, refusal
from .statement import Redemption

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
        raise ValidationError({"account": _("No such account in your part of the tree.")})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say why you redeem this card for the customer.")})
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


@redemption_counted
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
    refused with a wait (LOCKED), its PIN never looked at. Never more failures are evaluated
    than a rule's limit, per account, per address and per API key, across processes and
    servers. A refusal's result never says why. An IPv6 address is counted with its /64.

    How, in three steps (the lock order: the account's row, then the card's):

    1. **Credit** (`_at_once`): one autocommitted statement, no lock but the account's row:
       it credits only if every rule counts fewer live failures than its limit (and the
       claim has no stored answer). A success waits for nothing but its own account's row:
       not for a key's or an address's lock, nor behind another customer's failure.
    2. **Reserve** (`lockout.failure_reserve`), for a PIN that did not credit: under the
       account's row lock and the client's lock, a failure slot is counted and taken, or
       the request is LOCKED; committed at once, which releases the locks.
    3. **Evaluate** (`_evaluate`), outside the client's lock: the PIN is tried again (it may
       credit now: the reservation is then deleted), else its refusal turns the reservation
       into the attempt ("failed", or "already" credited to this account).

    Why the lockout stays exact. Only a reservation becomes an evaluated failure, and
    reservations of one account, one key, one address are made one at a time under its lock,
    each seeing every earlier one (step 2): a rule counts at most its limit. The credit of
    step 1 takes no such lock, and need not: it writes no failure, and credits only below
    every limit as of its snapshot. The interleavings: (a) a reservation commits before the
    credit's statement starts: its snapshot counts it, so a credit after the lockout began
    is impossible; (b) a reservation commits while the statement runs (waiting for the
    account's row, say): the statement decided on a count taken before the lockout began, as
    if it had run just before it; (c) a reservation of a PIN that then credits is deleted:
    the count only falls; (d) a reservation whose evaluation fails with an error stays a
    failure ("error"), and one whose process died before step 3 stays "reserved": both count,
    erring on the safe side. (An error in step 1 is recorded as a failure without a slot: it
    can only make a lockout stricter, and nothing of that PIN was answered.) Lifting a
    lockout lifts reservations too; the evaluation keeps that.
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
    try:
        if redemption.digests is not None and (result := _at_once(redemption)):
            return result
    except Exception:
        _error_record(redemption)
        raise
    reservation = failure_reserve(redemption)
    if isinstance(reservation, RedeemResult):  # LOCKED or HELD: nothing evaluated
        return reservation
    result = _evaluate(redemption, reservation)
    if result.outcome == RedeemOutcome.FAILED:
        # Whatever went wrong, the customer learns nothing about which PINs exist.
        return RedeemResult(outcome=RedeemOutcome.FAILED)
    return result


def _at_once(redemption: Redemption) -> RedeemResult | None:
    """Step 1: the credit in one statement (its success, or HELD), else None.

    Outside any transaction (autocommit) it is one round trip and one commit. A statement
    that fails on a unique index (the claim's record: another request under the same
    idempotency key answered first) changed nothing: None, and step 2 finds that answer.
    """
    limits = gate_limits()
    try:
        if connection.in_atomic_block:  # a caller's transaction (tests): a savepoint
            with transaction.atomic():
                ran = statement.credit(redemption, limits=limits)
        else:
            ran = statement.credit(redemption, limits=limits)
    except IntegrityError:
        return None
    return HELD if ran.held else ran.credited


def _evaluate(redemption: Redemption, reservation: int) -> RedeemResult:
    """Step 3: evaluate the PIN for the reserved slot, and record what it was.

    One transaction, without the client's lock: the crediting statement (ungated: the slot is
    taken) locks the account's row before the card; if it credits, the reservation goes.
    Otherwise the refusal's reason is looked up and the reservation becomes the attempt, with
    its audit row and the claim's answer. An error rolls that back and marks the reservation
    "error": it still counts. A second request under the claim's idempotency key that lost
    the race for its record gives its slot back: HELD, and the caller replays the answer.
    """
    try:
        with transaction.atomic():
            return _evaluate_locked(redemption, reservation)
    except IntegrityError:
        claim = redemption.idempotency
        if claim is not None and claim.is_answered():
            RedemptionAttempt.objects.filter(pk=reservation).delete()
            return HELD
        _error_record(redemption, reservation=reservation)
        raise
    except Exception:
        _error_record(redemption, reservation=reservation)
        raise


def _evaluate_locked(redemption: Redemption, reservation: int) -> RedeemResult:
    account = redemption.account
    ran = statement.credit(redemption, limits=None) if redemption.digests else None
    if ran is not None and ran.credited is not None:
        RedemptionAttempt.objects.filter(pk=reservation).delete()
        return ran.credited
    balance = ran.balance if ran is not None else account.balance
    refused = refusal(
        account=account, digests=redemption.digests, owners=redemption.owners, balance=balance
    )
    if refused.reason == NOT_REDEEMABLE:
        # Nothing stands in its way now: it changed between the two statements (released a
        # moment ago, say). Try once more; the UPDATE decides on the row as it is now.
        ran = statement.credit(redemption, limits=None)
        if ran.credited is not None:
            RedemptionAttempt.objects.filter(pk=reservation).delete()
            return ran.credited
        refused = refusal(
            account=account, digests=redemption.digests, owners=redemption.owners, balance=balance
        )
    _record(redemption, reservation, refused)
    return refused


def _record(redemption: Redemption, reservation: int, result: RedeemResult) -> None:
    """The reservation becomes the attempt that did not credit; its audit row (a failure) and
    the claim's answer."""
    RedemptionAttempt.objects.filter(pk=reservation).update(
        outcome=result.outcome, reason=result.reason, card_number=result.card_number
    )
    if result.outcome == RedeemOutcome.FAILED:
        audit(
            AuditEvent.Action.REDEMPTION_FAILED,
            actor=redemption.user,
            account=redemption.account.pk,
            reason=result.reason,
            card=result.card_number,
            address=redemption.address,
            **({"api_key": redemption.api_key} if redemption.api_key else {}),
            **({"note": redemption.note} if redemption.staff else {}),
        )
    if redemption.idempotency is not None:
        redemption.idempotency.store(result, redemption.account.currency)


def _error_record(redemption: Redemption, reservation: int | None = None) -> None:
    """An attempt that ended in an error: nothing of it survived the rollback, yet it counts
    against the lockout (its reservation, or a failure written now).

    Called while the error is handled. A database outage (`config.db_faults.outage`: the
    connection lost, at the commit say) leaves the credit's fate unknown: the attempt is
    logged with reason "unconfirmed", on a new connection, so support sees it (the card's
    ledger row says whether it went through). A reservation keeps counting, as any error's
    does; a step-1 credit cut off so is logged as not confirmed, not as a failure (it took no
    slot, and the customer did nothing wrong).
    """
    unconfirmed = outage(sys.exc_info()[1]) is not None
    if unconfirmed:
        drop_broken_connections()
    reason = "unconfirmed" if unconfirmed else "error"
    if reservation is not None:
        RedemptionAttempt.objects.filter(pk=reservation).update(reason=reason)
        return
    RedemptionAttempt.objects.create(
        account=redemption.account,
        client_address=redemption.address,
        client_network=redemption.network,
        api_key=redemption.api_key,
        outcome=(
            RedemptionAttempt.Outcome.UNCONFIRMED
            if unconfirmed
            else RedemptionAttempt.Outcome.FAILED
        ),
        reason=reason,
        staff=redemption.staff,
    )
