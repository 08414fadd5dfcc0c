"""The lockout: how many failures an account, an address and an API key may have, who is
locked out now and until when, and lifting it.

A web attempt counts against its account and its client address; an API attempt against its
account and its API key (the address of an API call is the gateway's, shared by all its
customers, so it is recorded but not counted). An address here is a lockout key
(`config.client_address.address_key`): an IPv4 address or an IPv6 /64 network. Only live
failures count: outcome "failed", not lifted, inside the rule's window.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import Account
from resellers.models import AuditEvent, audit
from resellers.scoping import reseller_ids_visible_to

from ...models import RedemptionAttempt
from ..notify import lockout_started
from .outcome import HELD, RedeemOutcome, RedeemResult
from .statement import Limit, Redemption, lock_attempts

# The reason of a failure slot taken before its PIN is evaluated (see `failure_reserve`).
RESERVED = "reserved"


def lockout_rules() -> list[tuple[str, int, int]]:
    """(whose failures: "account", "address" or "api_key", limit, window in seconds)."""
    return [
        ("account", settings.REDEEM_ACCOUNT_FAILURES_SHORT, settings.REDEEM_ACCOUNT_WINDOW_SHORT),
        ("account", settings.REDEEM_ACCOUNT_FAILURES_LONG, settings.REDEEM_ACCOUNT_WINDOW_LONG),
        ("address", settings.REDEEM_ADDRESS_FAILURES, settings.REDEEM_ADDRESS_WINDOW),
        ("api_key", settings.REDEEM_API_KEY_FAILURES, settings.REDEEM_API_KEY_WINDOW),
    ]


def failures_since() -> datetime:
    """The start of the longest window: no older failure counts."""
    return timezone.now() - timedelta(seconds=max(window for _, _, window in lockout_rules()))


def gate_limits() -> list[Limit]:
    """The rules as the crediting statement's gate applies them: (whose, limit, since)."""
    now = timezone.now()
    return [
        (whose, limit, now - timedelta(seconds=window)) for whose, limit, window in lockout_rules()
    ]


def _recent_failures(where: Q) -> list[tuple[int, str, str, datetime]]:
    """(account, address, API key, when) of the live failures within the longest window,
    newest first.

    Failures are rare and few (the lockout caps them), and partial indexes hold only them,
    so one small query serves every rule.
    """
    return list(
        RedemptionAttempt.objects.filter(
            where,
            outcome=RedemptionAttempt.Outcome.FAILED,
            lifted=False,
            created_at__gt=failures_since(),
        )
        .order_by("-created_at")
        .values_list("account_id", "client_network", "api_key", "created_at")
    )


def _counts_against(whose: str, failure, target) -> bool:
    failed_account, failed_address, failed_key, _ = failure
    if whose == "account":
        return failed_account == target
    if whose == "address":
        return failed_key == "" and failed_address == target
    return failed_key == target


def _wait(failures, *, account_id: int | None = None, address: str = "", api_key: str = "") -> int:
    """Seconds until the account / address / API key may try again; 0 when it may now."""
    now = timezone.now()
    targets = {"account": account_id, "address": address, "api_key": api_key}
    wait = 0
    for whose, limit, window in lockout_rules():
        target = targets[whose]
        if not target:
            continue
        recent = [
            failure[3]
            for failure in failures
            if _counts_against(whose, failure, target)
            and failure[3] > now - timedelta(seconds=window)
        ]
        if len(recent) >= limit:
            # Locked until the limit-th most recent failure leaves the window.
            free_at = recent[limit - 1] + timedelta(seconds=window)
            wait = max(wait, math.ceil((free_at - now).total_seconds()), 1)
    return wait


def _client(*, address: str, api_key: str) -> Q:
    """The attempts of this client: its API key's, or the web attempts from its address."""
    return Q(api_key=api_key) if api_key else Q(client_network=address, api_key="")


def lockout_retry_after(*, account_id: int, address: str, api_key: str = "") -> int:
    """Seconds until this account may try again from this client; 0 when not locked out.

    The client is the API key when there is one, otherwise the address (a lockout key).
    """
    failures = _recent_failures(
        Q(account_id=account_id) | _client(address=address, api_key=api_key)
    )
    return _wait(
        failures, account_id=account_id, address="" if api_key else address, api_key=api_key
    )


def failure_reserve(redemption: Redemption) -> int | RedeemResult:
    """Take a failure slot for a PIN about to be evaluated: the id of the reserved attempt,
    or LOCKED (with its wait; nothing written) or HELD (the claim's answer is stored).

    One short transaction: the first statement takes the account's row lock and the client's
    attempt lock (`statement.lock_attempts`); the next ones, whose snapshots are taken after
    both were granted, see every reservation committed by the locks' earlier holders, count
    the live failures and, below every limit, insert the reservation: an attempt "failed" /
    "reserved", which counts like any failure from its commit on. The commit releases the
    locks. So the reservations of one account (its row lock) and of one key or address (its
    advisory lock) are made one at a time, each seeing all earlier ones: no rule ever counts
    more than its limit, on any number of servers. The PIN is then evaluated outside these
    locks; the caller turns the reservation into the attempt's outcome, or deletes it.
    """
    with transaction.atomic():
        lock_attempts(redemption)
        if redemption.idempotency and redemption.idempotency.is_answered():
            return HELD
        if wait := lockout_retry_after(
            account_id=redemption.account.pk,
            address=redemption.network,
            api_key=redemption.api_key,
        ):
            return RedeemResult(outcome=RedeemOutcome.LOCKED, retry_after=wait)
        reservation = RedemptionAttempt.objects.create(
            account=redemption.account,
            client_address=redemption.address,
            client_network=redemption.network,
            api_key=redemption.api_key,
            outcome=RedemptionAttempt.Outcome.FAILED,
            reason=RESERVED,
            staff=redemption.staff,
            note=redemption.note if redemption.staff else "",
        ).pk
        # This reservation may fill a limit: then a lockout starts now (one query more per
        # failure, not per credit).
        if wait := lockout_retry_after(
            account_id=redemption.account.pk,
            address=redemption.network,
            api_key=redemption.api_key,
        ):
            lockout_started(
                account=redemption.account, retry_after=wait, api_key=redemption.api_key
            )
        return reservation


@dataclass(frozen=True)
class Lockout:
    account: Account | None
    address: str
    retry_after: int
    api_key: str = ""


def active_lockouts(attempts) -> list[Lockout]:
    """The accounts, addresses and API keys locked out now, among `attempts` (already scoped)."""
    failures = _recent_failures(Q(pk__in=attempts.values("pk")))
    lockouts = []
    accounts = Account.objects.in_bulk({failure[0] for failure in failures})
    for account_id, account in sorted(accounts.items()):
        if wait := _wait(failures, account_id=account_id):
            lockouts.append(Lockout(account=account, address="", retry_after=wait))
    for address in sorted({failure[1] for failure in failures if not failure[2]}):
        if wait := _wait(failures, address=address):
            lockouts.append(Lockout(account=None, address=address, retry_after=wait))
    for api_key in sorted({failure[2] for failure in failures if failure[2]}):
        if wait := _wait(failures, api_key=api_key):
            lockouts.append(Lockout(account=None, address="", api_key=api_key, retry_after=wait))
    return lockouts


def lockout_lift(
    *, user, account_id: int | None = None, address: str = "", api_key: str = ""
) -> int:
    """Forgive the counted failures of an account, a client address (a lockout key) or an API
    key; audited.

    Only failures of accounts in the user's part of the tree are forgiven: an address or a key
    shared with another reseller's customers stays locked by theirs.
    """
    if not user.has_perm("topup.lift_lockout"):
        raise PermissionDenied
    if account_id is not None:
        where = Q(account_id=account_id)
    elif address or api_key:
        where = _client(address=address, api_key=api_key)
    else:
        raise ValidationError(_("Name an account, a client address or an API key."), code="one")
    with transaction.atomic():
        lifted = RedemptionAttempt.objects.filter(
            where,
            account__reseller_id__in=reseller_ids_visible_to(user),
            outcome=RedemptionAttempt.Outcome.FAILED,
            lifted=False,
        ).update(lifted=True)
        details = {"account": account_id, "address": address}
        if api_key:
            details["api_key"] = api_key
        audit(AuditEvent.Action.LOCKOUT_LIFTED, actor=user, lifted=lifted, **details)
    return lifted
