"""Redeeming a PIN for an account, exactly once, behind the database lockout."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from billing.models import Account, Transaction
from billing.services import account_credit
from config.client_address import address_key
from resellers.scoping import reseller_ids_visible_to

from ..models import Card, RedemptionAttempt, audit
from ..pins import InvalidPin, pin_service


@dataclass(frozen=True)
class RedeemResult:
    """What the customer is told. `reason` is for the attempt log only, never shown."""

    outcome: str  # success | already | failed | locked
    amount: Decimal | None = None
    balance: Decimal | None = None
    card_number: str = ""
    reason: str = ""
    retry_after: int = 0


def _lockout_rules() -> list[tuple[str, int, int]]:
    """(whose failures: "account" or "address", limit, window in seconds).

    An address here is a lockout key (`config.client_address.address_key`): an IPv4 address or
    an IPv6 /64 network.
    """
    return [
        ("account", settings.REDEEM_ACCOUNT_FAILURES_SHORT, settings.REDEEM_ACCOUNT_WINDOW_SHORT),
        ("account", settings.REDEEM_ACCOUNT_FAILURES_LONG, settings.REDEEM_ACCOUNT_WINDOW_LONG),
        ("address", settings.REDEEM_ADDRESS_FAILURES, settings.REDEEM_ADDRESS_WINDOW),
    ]


def _recent_failures(where: Q) -> list[tuple[int, str, datetime]]:
    """(account, address, when) of the live failures within the longest window, newest first.

    Failures are rare and few (the lockout caps them), and a partial index holds only them,
    so one small query serves every rule.
    """
    longest = max(window for _, _, window in _lockout_rules())
    return list(
        RedemptionAttempt.objects.filter(
            where,
            outcome=RedemptionAttempt.Outcome.FAILED,
            lifted=False,
            created_at__gt=timezone.now() - timedelta(seconds=longest),
        )
        .order_by("-created_at")
        .values_list("account_id", "client_network", "created_at")
    )


def _wait(failures, *, account_id: int | None, address: str | None) -> int:
    """Seconds until the account / address may try again; 0 when it may now."""
    now = timezone.now()
    wait = 0
    for whose, limit, window in _lockout_rules():
        if (whose == "account" and account_id is None) or (whose == "address" and not address):
            continue
        recent = [
            when
            for failed_account, failed_address, when in failures
            if (failed_account == account_id if whose == "account" else failed_address == address)
            and when > now - timedelta(seconds=window)
        ]
        if len(recent) >= limit:
            # Locked until the limit-th most recent failure leaves the window.
            free_at = recent[limit - 1] + timedelta(seconds=window)
            wait = max(wait, math.ceil((free_at - now).total_seconds()), 1)
    return wait


def lockout_retry_after(*, account_id: int, address: str) -> int:
    """Seconds until this account may try again from this address; 0 when not locked out.

    The common case, no live failure at all, is answered by one hand-written existence query
    (it runs on every redemption); only then are the failures read and the rules applied.
    """
    longest = max(window for _, _, window in _lockout_rules())
    since = timezone.now() - timedelta(seconds=longest)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {quote(RedemptionAttempt._meta.db_table)}"
            f" WHERE ({quote('account_id')} = %s OR {quote('client_network')} = %s)"
            f" AND {quote('outcome')} = %s AND NOT {quote('lifted')}"
            f" AND {quote('created_at')} > %s LIMIT 1",
            [
                account_id,
                address,
                RedemptionAttempt.Outcome.FAILED,
                connection.ops.adapt_datetimefield_value(since),
            ],
        )
        if cursor.fetchone() is None:
            return 0
    failures = _recent_failures(Q(account_id=account_id) | Q(client_network=address))
    return _wait(failures, account_id=account_id, address=address)


@dataclass(frozen=True)
class Lockout:
    account: Account | None
    address: str
    retry_after: int


def active_lockouts(attempts) -> list[Lockout]:
    """The accounts and addresses locked out now, among `attempts` (already scoped)."""
    failures = _recent_failures(Q(pk__in=attempts.values("pk")))
    lockouts = []
    accounts = Account.objects.in_bulk({account_id for account_id, _, _ in failures})
    for account_id, account in sorted(accounts.items()):
        if wait := _wait(failures, account_id=account_id, address=None):
            lockouts.append(Lockout(account=account, address="", retry_after=wait))
    for address in sorted({address for _, address, _ in failures}):
        if wait := _wait(failures, account_id=None, address=address):
            lockouts.append(Lockout(account=None, address=address, retry_after=wait))
    return lockouts


def _lock_attempts(*, account: Account, address: str) -> None:
    """Serialise the attempts of one account and of one client address until commit.

    Held while failures are counted, the PIN evaluated and the attempt recorded, so parallel
    requests cannot overshoot the lockout, whichever app server they reach.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One round trip: the account's row lock and the address's advisory lock.
            cursor.execute(
                f"SELECT pg_advisory_xact_lock(hashtext(%s)) FROM {Account._meta.db_table}"
                " WHERE id = %s FOR UPDATE",
                [f"topup.address:{address}", account.pk],
            )
    else:  # SQLite: the transaction already holds the database's single write lock.
        list(Account.objects.select_for_update().filter(pk=account.pk).values_list("pk"))


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


@sensitive_variables("typed_pin")
def card_redeem(
    *, account: Account, typed_pin: str, client_address: str, user=None, note: str = ""
) -> RedeemResult:
    """Redeem a PIN for `account`: exactly once, whatever runs in parallel.

    `user` is the customer's own user, or none (the API); or a staff user redeeming for the
    customer (support, the PIN read over the phone), who needs the right, the account in
    their scope and a `note`: then the attempt, the ledger row and the audit name them both.

    In one transaction, under locks on the account and the client address: the recent
    failures are counted (a locked-out request is refused with a wait, its PIN never looked
    at); a single conditional UPDATE moves the card from new to activated only if this account
    may redeem it (owner is the account's reseller or an ancestor, same currency); only if it
    changed one row is the account credited through the ledger, whose unique reference makes a
    second credit of one card impossible; the attempt and, for a refusal, its reason are
    recorded. A refusal's result never says why. An IPv6 address is counted with its /64.
    """
    staff = None
    if user is not None and user.pk != account.user_id:
        note = _check_support(user=user, account=account, note=note)
        staff = user
    else:
        note = ""
    network = address_key(client_address)
    try:
        with transaction.atomic():
            _lock_attempts(account=account, address=network)
            wait = lockout_retry_after(account_id=account.pk, address=network)
            if wait:
                return RedeemResult(outcome="locked", retry_after=wait)
            result = _redeem(account=account, typed_pin=typed_pin, user=user, note=note)
            RedemptionAttempt.objects.create(
                account=account,
                client_address=client_address,
                client_network=network,
                outcome=result.outcome,
                reason=result.reason,
                card_number=result.card_number,
                staff=staff,
                note=note if staff else "",
            )
            if result.outcome == "failed":
                audit(
                    "card.redemption_failed",
                    actor=user,
                    account=account.pk,
                    reason=result.reason,
                    card=result.card_number,
                    address=client_address,
                    **({"note": note} if staff else {}),
                )
    except Exception:
        # Nothing of the attempt survived the rollback; it still counts against the lockout.
        RedemptionAttempt.objects.create(
            account=account,
            client_address=client_address,
            client_network=network,
            outcome=RedemptionAttempt.Outcome.FAILED,
            reason="error",
            staff=staff,
        )
        raise
    if result.outcome == "failed":
        # Whatever went wrong, the customer learns nothing about which PINs exist.
        return RedeemResult(outcome="failed")
    return result


@sensitive_variables("typed_pin", "pin")
def _redeem(*, account: Account, typed_pin: str, user, note: str) -> RedeemResult:
    try:
        pin = pin_service.normalise(typed_pin)
        pin_service.check_length(len(pin))
    except InvalidPin:
        return RedeemResult(outcome="failed", reason="malformed")
    # The current digest and, while the digest key is being rotated, the previous one: one
    # statement looks for both, so a card moved meanwhile is still found.
    digests = pin_service.digests(pin)
    owners = account.reseller.ancestors_and_self()
    activated = Card.objects.activate(digests=digests, account=account, owners=owners)
    if activated is None:
        card = Card.objects.filter(pin_digest__in=digests).first()
        if card is None:
            return RedeemResult(outcome="failed", reason="unknown")
        reason = _refusal_reason(card, account, owners)
        if reason == "not_redeemable":
            # Nothing stands in its way now: it changed between the two statements (released
            # a moment ago, say). Try once more; the UPDATE decides on the row as it is now.
            activated = Card.objects.activate(digests=digests, account=account, owners=owners)
            if activated is None:
                card = Card.objects.get(pk=card.pk)
                reason = _refusal_reason(card, account, owners)
    if activated is None:
        own = card.activated_by_id == account.pk
        return RedeemResult(
            outcome="already" if own else "failed",
            reason=reason,
            card_number=card.number,
            amount=card.amount if own else None,
        )
    card_id, number, amount, currency = activated
    posting = account_credit(
        account=account,
        amount=amount,
        kind=Transaction.Kind.TOPUP_CARD,
        description=f"Top-up card {number}",
        reference=f"topup.card:{card_id}",
        user=user,
    )
    audit(
        "card.redeemed",
        actor=user,
        account=account.pk,
        card=number,
        amount=str(amount),
        currency=currency,
        **({"note": note} if note else {}),
    )
    return RedeemResult(
        outcome="success", amount=amount, balance=posting.balance_after, card_number=number
    )


def _refusal_reason(card: Card, account: Account, owners: list[int]) -> str:
    if card.status == Card.Status.ACTIVATED:
        return "already_own" if card.activated_by_id == account.pk else "used_by_other"
    if card.status == Card.Status.VOID:
        return "void"
    if card.status == Card.Status.BLOCKED:
        return "blocked"
    now = timezone.now()
    if card.expires_at is not None and card.expires_at <= now:
        return "expired"
    if card.status == Card.Status.IN_STOCK:
        return "in_stock"
    if card.valid_from is not None and card.valid_from > now:
        return "not_yet_valid"
    if card.reseller_id not in owners:
        return "foreign_reseller"
    if card.currency != account.currency:
        return "foreign_currency"
    return "not_redeemable"


def lockout_lift(*, user, account_id: int | None = None, address: str = "") -> int:
    """Forgive the counted failures of an account or a client address (a lockout key); audited.

    Only failures of accounts in the user's part of the tree are forgiven: an address shared
    with another reseller's customers stays locked by theirs.
    """
    if not user.has_perm("topup.lift_lockout"):
        raise PermissionDenied
    if account_id is None and not address:
        raise ValidationError("Name an account or a client address.")
    where = Q(account_id=account_id) if account_id is not None else Q(client_network=address)
    with transaction.atomic():
        lifted = RedemptionAttempt.objects.filter(
            where,
            account__reseller_id__in=reseller_ids_visible_to(user),
            outcome=RedemptionAttempt.Outcome.FAILED,
            lifted=False,
        ).update(lifted=True)
        audit("lockout.lifted", actor=user, account=account_id, address=address, lifted=lifted)
    return lifted
