"""Redeeming a PIN for an account, exactly once, behind the database lockout."""

import json
import math
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import Error, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from billing.models import Account, Transaction, as_money
from billing.services import account_credit, posting_ctes
from config.client_address import address_key
from config.db_faults import drop_broken_connections, outage
from config.postgresql.prepared import execute_prepared
from resellers.scoping import reseller_ids_visible_to

from ..models import AuditEvent, Card, RedemptionAttempt, audit
from ..pins import InvalidPin, pin_service

# What a card's credit is called in the ledger: "Top-up card 101-00000007", "topup.card:42".
LEDGER_DESCRIPTION = "Top-up card "
LEDGER_REFERENCE = "topup.card:"


@dataclass(frozen=True)
class RedeemResult:
    """What the customer is told. `reason` is for the attempt log only, never shown."""

    outcome: str  # success | already | failed | locked | held (see card_redeem's `hold`)
    amount: Decimal | None = None
    balance: Decimal | None = None
    card_number: str = ""
    reason: str = ""
    retry_after: int = 0


def _lockout_rules() -> list[tuple[str, int, int]]:
    """(whose failures: "account", "address" or "api_key", limit, window in seconds).

    A web attempt counts against its account and its client address; an API attempt against
    its account and its API key (the address of an API call is the gateway's, shared by all
    its customers, so it is recorded but not counted). An address here is a lockout key
    (`config.client_address.address_key`): an IPv4 address or an IPv6 /64 network.
    """
    return [
        ("account", settings.REDEEM_ACCOUNT_FAILURES_SHORT, settings.REDEEM_ACCOUNT_WINDOW_SHORT),
        ("account", settings.REDEEM_ACCOUNT_FAILURES_LONG, settings.REDEEM_ACCOUNT_WINDOW_LONG),
        ("address", settings.REDEEM_ADDRESS_FAILURES, settings.REDEEM_ADDRESS_WINDOW),
        ("api_key", settings.REDEEM_API_KEY_FAILURES, settings.REDEEM_API_KEY_WINDOW),
    ]


def _longest_window() -> int:
    return max(window for _, _, window in _lockout_rules())


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
            created_at__gt=timezone.now() - timedelta(seconds=_longest_window()),
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
    for whose, limit, window in _lockout_rules():
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


_FAILED = RedemptionAttempt.Outcome.FAILED.value
assert _FAILED.isalpha()  # written into SQL as a literal


def _live_failures_sql(*, account_id: int, address: str, api_key: str) -> tuple[str, list]:
    """A query for the live failures of this account or client (empty when none).

    What the partial indexes of `RedemptionAttempt` are conditioned on (a failure, not lifted,
    with or without a key) is written as literals, not parameters: the query runs inside
    prepared statements, whose generic plan can use a partial index only when the query's
    own text implies the index's condition.
    """
    since = timezone.now() - timedelta(seconds=_longest_window())
    client, client_params = (
        ("(api_key = %s AND api_key <> '')", [api_key])
        if api_key
        else ("(client_network = %s AND api_key = '')", [address])
    )
    return (
        f"SELECT 1 FROM {RedemptionAttempt._meta.db_table}"
        f" WHERE (account_id = %s OR {client}) AND outcome = '{_FAILED}' AND NOT lifted"
        " AND created_at > %s",
        [account_id, *client_params, connection.ops.adapt_datetimefield_value(since)],
    )


def lockout_retry_after(*, account_id: int, address: str, api_key: str = "") -> int:
    """Seconds until this account may try again from this client; 0 when not locked out.

    The client is the API key when there is one, otherwise the address. The common case,
    no live failure at all, is answered by one existence query; only then are the failures
    read and the rules applied.
    """
    sql, params = _live_failures_sql(account_id=account_id, address=address, api_key=api_key)
    with connection.cursor() as cursor:
        cursor.execute(sql + " LIMIT 1", params)
        if cursor.fetchone() is None:
            return 0
    failures = _recent_failures(
        Q(account_id=account_id) | _client(address=address, api_key=api_key)
    )
    return _wait(
        failures, account_id=account_id, address="" if api_key else address, api_key=api_key
    )


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


def attempt_lock_sql(*, address: str = "", api_key: str = "") -> tuple[str, list]:
    """PostgreSQL: an SQL expression that takes a client's attempt lock until commit (its API
    key's, else its address's), and its parameters. See `_lock_attempts`."""
    client = f"topup.api_key:{api_key}" if api_key else f"topup.address:{address}"
    return "pg_advisory_xact_lock(hashtext(%s))", [client]


def _lock_attempts(*, account: Account, address: str, api_key: str) -> Decimal:
    """Serialise the attempts of one account and of one client until commit; its balance.

    Held while failures are counted, the PIN evaluated and the attempt recorded, so parallel
    requests cannot overshoot the lockout, whichever app server they reach. The client is
    the API key for API calls (one key's counted calls run one at a time; a plain credit
    needs no lock, see `card_redeem_at_once`), else the address.
    """
    if connection.vendor == "postgresql":
        # One round trip: the account's row lock and the client's advisory lock.
        lock, params = attempt_lock_sql(address=address, api_key=api_key)
        with connection.cursor() as cursor:
            execute_prepared(
                cursor,
                f"SELECT {lock}, balance FROM {Account._meta.db_table} WHERE id = %s FOR UPDATE",
                [*params, account.pk],
            )
            balance = cursor.fetchone()[1]
    else:  # SQLite: the transaction already holds the database's single write lock.
        balance = (
            Account.objects.select_for_update()
            .filter(pk=account.pk)
            .values_list("balance", flat=True)
            .get()
        )
    return as_money(balance)


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
    *,
    account: Account,
    typed_pin: str,
    client_address: str,
    user=None,
    note: str = "",
    api_key: str = "",
    joined: bool = False,
    locked_balance: Decimal | None = None,
    rider: tuple[str, list] | None = None,
    hold: tuple[str, list] | None = None,
) -> RedeemResult:
    """Redeem a PIN for `account`: exactly once, whatever runs in parallel.

    `user` is the customer's own user, or none (the API); or a staff user redeeming for the
    customer (support, the PIN read over the phone), who needs the right, the account in
    their scope and a `note`: then the attempt, the ledger row and the audit name them both.
    `api_key` is the public id of the API key of an API call.

    In one transaction, under locks on the account and the client (its API key, else its
    address): the recent failures are counted (a locked-out request is refused with a wait,
    its PIN never looked at); a single conditional UPDATE moves the card from new to activated
    only if this account may redeem it (owner is the account's reseller or an ancestor, same
    currency); only if it changed one row is the account credited through the ledger, whose
    unique reference makes a second credit of one card impossible; the attempt and its audit
    row are recorded. On PostgreSQL the common case (no live failure, a card credited) is one
    statement after the locks. A refusal's result never says why. An IPv6 address is counted
    with its /64.

    A caller that keeps its own rows in the same transaction (the API's idempotency record)
    passes `joined=True`: the redemption then runs in the caller's transaction, without a
    savepoint of its own, and after an error the caller rolls back and records the failed
    attempt (`redemption_error_record`), which counts against the lockout all the same.
    Such a caller may also have taken the attempt locks itself in the same transaction (on
    PostgreSQL the account's row lock and `attempt_lock_sql`, in one of its own statements;
    on SQLite the transaction's write lock), passing the account's `locked_balance` read
    under them; and on PostgreSQL it may pass a `rider`: SQL and parameters for one more
    data-modifying CTE of the crediting statement (it may read the CTEs `card`: number, amount,
    currency, and `posted`: balance_after), run exactly when the card is credited. `hold`:
    SQL for a condition and its parameters, looked at after the locks (on PostgreSQL in the
    redemption's first statement): when it is true nothing is evaluated or written and the
    outcome is "held" (the API's answer already stored for a retried call).
    """
    if rider is not None and not one_statement_supported():
        raise ValueError("A rider runs only in PostgreSQL's one-statement redemption.")
    staff = None
    if user is not None and user.pk != account.user_id:
        note = _check_support(user=user, account=account, note=note)
        staff = user
    else:
        note = ""
    network = address_key(client_address)
    try:
        with transaction.atomic(savepoint=not joined):
            result = _redeem(
                account=account,
                typed_pin=typed_pin,
                address=client_address,
                network=network,
                api_key=api_key,
                user=user,
                staff=staff,
                note=note,
                locked_balance=locked_balance,
                rider=rider,
                hold=hold,
            )
    except Exception:
        if not joined:
            redemption_error_record(
                account=account, client_address=client_address, api_key=api_key, staff=staff
            )
        raise
    if result.outcome == "failed":
        # Whatever went wrong, the customer learns nothing about which PINs exist.
        return RedeemResult(outcome="failed")
    return result


@sensitive_variables("typed_pin", "pin")
def card_redeem_at_once(
    *,
    account: Account,
    typed_pin: str,
    client_address: str,
    api_key: str,
    rider: tuple[str, list] | None = None,
    hold: tuple[str, list] | None = None,
) -> RedeemResult | None:
    """The common case of an API redemption in one statement, without the client's lock:
    its success (or "held", see `card_redeem`), else None, and then `card_redeem` decides.

    `card_redeem` serialises all calls of one API key on the key's attempt lock, which keeps
    the key's lockout exact; but a gateway sends all its customers' calls with one key, so
    its credits would queue one behind the other (and behind each commit's disk flush). Only
    failures count against a lockout, and this statement can only credit: outside any
    transaction (autocommit) it locks the account's row, then credits the card exactly like
    `card_redeem`'s statement, with its attempt, audit row and the caller's `rider`, only if
    the account and the key have no live failure at all (a locked-out client's PIN is never
    looked at) and the `hold` does not hold. A PIN that does not credit changes nothing here
    and goes the locked way, where it is counted before it is evaluated again; failures are
    written only there, one at a time, so the count stays exact. The account's row is locked
    before the card's, in the order `card_redeem` takes them. On another database, or for a
    PIN that cannot be one, None at once. A statement that fails on a unique index (the
    rider's, say) changed nothing: None.
    """
    if not one_statement_supported() or (digests := _digests(typed_pin)) is None:
        return None
    statement = {
        "account": account,
        "digests": digests,
        "owners": account.reseller.ancestors_and_self(),
        "address": client_address,
        "network": address_key(client_address),
        "api_key": api_key,
        "user": None,
        "staff": None,
        "note": "",
        "guarded": True,
        "rider": rider,
        "hold": hold,
        "lock_account": True,
    }
    try:
        if connection.in_atomic_block:  # a caller's transaction (tests): a savepoint
            with transaction.atomic():
                opened, activated = _redeem_in_one_statement(**statement)
        else:  # one statement, one transaction: no BEGIN and COMMIT round trips
            opened, activated = _redeem_in_one_statement(**statement)
    except IntegrityError:
        return None
    except Error as exc:
        if outage(exc):  # its fate is unknown: logged "unconfirmed", as card_redeem does
            redemption_error_record(account=account, client_address=client_address, api_key=api_key)
        raise
    if opened is None:
        return RedeemResult(outcome="held")
    return activated


def redemption_error_record(
    *, account: Account, client_address: str, api_key: str = "", staff=None
) -> None:
    """An attempt that ended in an error: nothing of it survived the rollback, yet it counts
    against the lockout. Called while the error is handled: when it is a database outage the
    commit's fate is unknown, so the attempt is logged "unconfirmed" on a new connection
    (no lockout count; support checks the card's ledger row)."""
    unconfirmed = outage(sys.exc_info()[1]) is not None
    if unconfirmed:
        drop_broken_connections()
    RedemptionAttempt.objects.create(
        account=account,
        client_address=client_address,
        client_network=address_key(client_address),
        api_key=api_key,
        outcome=(
            RedemptionAttempt.Outcome.UNCONFIRMED
            if unconfirmed
            else RedemptionAttempt.Outcome.FAILED
        ),
        reason="unconfirmed" if unconfirmed else "error",
        staff=staff,
    )


@sensitive_variables("typed_pin", "pin")
def _redeem(
    *,
    account: Account,
    typed_pin: str,
    address: str,
    network: str,
    api_key: str,
    user,
    staff,
    note: str,
    locked_balance: Decimal | None,
    rider: tuple[str, list] | None,
    hold: tuple[str, list] | None,
) -> RedeemResult:
    if locked_balance is None:
        balance = _lock_attempts(account=account, address=network, api_key=api_key)
    else:
        balance = as_money(locked_balance)
    held = RedeemResult(outcome="held")
    digests = _digests(typed_pin)
    owners = account.reseller.ancestors_and_self()
    client = {"address": network, "api_key": api_key}
    logged = {
        "address": address,
        "network": network,
        "api_key": api_key,
        "staff": staff,
        "note": note,
    }
    if digests is not None and one_statement_supported():
        opened, activated = _redeem_in_one_statement(
            account=account,
            digests=digests,
            owners=owners,
            user=user,
            guarded=True,
            rider=rider,
            hold=hold,
            **logged,
        )
        if opened is None:
            return held
        if not opened:  # live failures: apply the rules, then evaluate if not locked out
            if wait := lockout_retry_after(account_id=account.pk, **client):
                return RedeemResult(outcome="locked", retry_after=wait)
            _, activated = _redeem_in_one_statement(
                account=account,
                digests=digests,
                owners=owners,
                user=user,
                guarded=False,
                rider=rider,
                **logged,
            )
        if activated is not None:
            return activated
    else:
        if hold is not None and _holds(hold):
            return held
        if wait := lockout_retry_after(account_id=account.pk, **client):
            return RedeemResult(outcome="locked", retry_after=wait)
        if digests is not None and (
            activated := _redeem_step_by_step(
                account=account, digests=digests, owners=owners, user=user, **logged
            )
        ):
            return activated
    result = _refusal(account=account, digests=digests, owners=owners, balance=balance)
    if result.reason == "not_redeemable":
        # Nothing stands in its way now: it changed between the two statements (released a
        # moment ago, say). Try once more; the UPDATE decides on the row as it is now.
        if one_statement_supported():
            activated = _activate_one_statement(
                account=account, digests=digests, owners=owners, user=user, rider=rider, **logged
            )
        else:
            activated = _redeem_step_by_step(
                account=account, digests=digests, owners=owners, user=user, **logged
            )
        if activated:
            return activated
        result = _refusal(account=account, digests=digests, owners=owners, balance=balance)
    RedemptionAttempt.objects.create(
        account=account,
        client_address=address,
        client_network=network,
        api_key=api_key,
        outcome=result.outcome,
        reason=result.reason,
        card_number=result.card_number,
        staff=staff,
        note=note if staff else "",
    )
    if result.outcome == "failed":
        audit(
            AuditEvent.REDEMPTION_FAILED,
            actor=user,
            account=account.pk,
            reason=result.reason,
            card=result.card_number,
            address=address,
            **({"api_key": api_key} if api_key else {}),
            **({"note": note} if staff else {}),
        )
    return result


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


def _holds(condition: tuple[str, list]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CASE WHEN {condition[0]} THEN 1 ELSE 0 END", condition[1])
        return cursor.fetchone()[0] == 1


def _activate_one_statement(**kwargs) -> RedeemResult | None:
    """The one-statement redemption once the lockout has been checked (no gate)."""
    return _redeem_in_one_statement(guarded=False, **kwargs)[1]


def one_statement_supported() -> bool:
    """Whether the database runs data-modifying CTEs (PostgreSQL; SQLite does not)."""
    return connection.vendor == "postgresql"


def _audit_base(*, account: Account, api_key: str, note: str) -> dict:
    """The details of a "card redeemed" audit row that do not come from the card."""
    return {
        "account": account.pk,
        **({"api_key": api_key} if api_key else {}),
        **({"note": note} if note else {}),
    }


def _redeem_in_one_statement(
    *,
    account,
    digests,
    owners,
    address,
    network,
    api_key,
    user,
    staff,
    note,
    guarded,
    rider,
    hold=None,
    lock_account=False,
) -> tuple[bool | None, RedeemResult | None]:
    """PostgreSQL: the lockout gate, the activation, the credit and ledger row, the attempt
    and the audit row in one statement (data-modifying CTEs run to completion, and every one
    of them only for the card the activation returned). Its snapshot is taken after the locks,
    so it sees every failure committed before them.

    Returns (gate open, the success or None); (None, None) when the caller's `hold` held.
    A closed gate (a live failure of this account or client; `guarded` only) or a hold
    changed nothing. With `lock_account` the gate locks the account's row first (for a
    caller that holds no lock yet: `card_redeem_at_once`).
    """
    now = timezone.now()
    held, hold_params = hold or ("false", [])
    if guarded:
        failures, gate_params = _live_failures_sql(
            account_id=account.pk, address=network, api_key=api_key
        )
        gate = f"SELECT NOT EXISTS ({failures}) AS open, {held} AS held"
    else:
        gate, gate_params = f"SELECT true AS open, {held} AS held", []
    gate_params = [*gate_params, *hold_params]
    if lock_account:
        gate += f", (SELECT 1 FROM {Account._meta.db_table} WHERE id = %s FOR UPDATE) AS mine"
        gate_params.append(account.pk)
    activation, activation_params = Card.objects.activation_sql(
        digests=digests,
        account=account,
        owners=owners,
        when=now,
        also=f"(SELECT open AND NOT held{' AND mine = 1' if lock_account else ''} FROM gate)",
    )
    when = connection.ops.adapt_datetimefield_value(now)
    actor = user.pk if user is not None and user.is_authenticated else None
    sql = f"""
    WITH gate AS ({gate}),
    card AS ({activation}),
    source AS (
        SELECT %s::bigint AS account_id, amount, %s::varchar AS kind,
            %s::text || number AS description, %s::text || id::text AS reference,
            %s::bigint AS created_by_id
        FROM card
    ),
    {posting_ctes("source")},
    attempt AS (
        INSERT INTO {RedemptionAttempt._meta.db_table} (account_id, client_address,
            client_network, api_key, outcome, reason, card_number, lifted, staff_id, note,
            created_at)
        SELECT %s::bigint, %s::inet, %s, %s, %s, '', number, false, %s::bigint, %s,
            %s::timestamptz
        FROM card
    ),
    event AS (
        INSERT INTO {AuditEvent._meta.db_table} (action, actor_id, details, created_at)
        SELECT %s, %s::bigint, %s::jsonb || jsonb_build_object(
            'card', number, 'amount', amount::text, 'currency', currency), %s::timestamptz
        FROM card
    ){f", rider AS ({rider[0]})" if rider else ""}
    SELECT gate.open, gate.held, card.number, card.amount, posted.balance_after
    FROM gate LEFT JOIN card ON true LEFT JOIN posted ON true
    """
    params = [
        *gate_params,
        *activation_params,
        account.pk,
        Transaction.Kind.TOPUP_CARD,
        LEDGER_DESCRIPTION,
        LEDGER_REFERENCE,
        actor,
        account.pk,
        address,
        network,
        api_key,
        RedemptionAttempt.Outcome.SUCCESS,
        staff.pk if staff is not None else None,
        note if staff is not None else "",
        when,
        AuditEvent.CARD_REDEEMED,
        actor,
        json.dumps(_audit_base(account=account, api_key=api_key, note=note)),
        when,
        *(rider[1] if rider else []),
    ]
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        opened, was_held, number, amount, balance = cursor.fetchone()
    if was_held:
        return None, None
    if number is None:
        return opened, None
    account.balance = as_money(balance)
    return True, RedeemResult(
        outcome="success", amount=as_money(amount), balance=account.balance, card_number=number
    )


def _redeem_step_by_step(
    *, account, digests, owners, address, network, api_key, user, staff, note
) -> RedeemResult | None:
    """Other databases (the SQLite demo): the same writes, one statement at a time."""
    activated = Card.objects.activate(digests=digests, account=account, owners=owners)
    if activated is None:
        return None
    card_id, number, amount, currency = activated
    posting = account_credit(
        account=account,
        amount=amount,
        kind=Transaction.Kind.TOPUP_CARD,
        description=f"{LEDGER_DESCRIPTION}{number}",
        reference=f"{LEDGER_REFERENCE}{card_id}",
        user=user,
    )
    RedemptionAttempt.objects.create(
        account=account,
        client_address=address,
        client_network=network,
        api_key=api_key,
        outcome=RedemptionAttempt.Outcome.SUCCESS,
        card_number=number,
        staff=staff,
        note=note if staff else "",
    )
    audit(
        AuditEvent.CARD_REDEEMED,
        actor=user,
        **_audit_base(account=account, api_key=api_key, note=note),
        card=number,
        amount=str(amount),
        currency=currency,
    )
    return RedeemResult(
        outcome="success", amount=amount, balance=posting.balance_after, card_number=number
    )


def _refusal(
    *, account: Account, digests: list[str] | None, owners: list[int], balance
) -> RedeemResult:
    """Why the PIN did not credit this account: already credited to it, or refused."""
    if digests is None:
        return RedeemResult(outcome="failed", reason="malformed")
    card = Card.objects.filter(pin_digest__in=digests).first()
    if card is None:
        return RedeemResult(outcome="failed", reason="unknown")
    own = card.activated_by_id == account.pk
    return RedeemResult(
        outcome="already" if own else "failed",
        reason=_refusal_reason(card, account, owners),
        card_number=card.number,
        amount=card.amount if own else None,
        balance=balance if own else None,
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
        raise ValidationError("Name an account, a client address or an API key.")
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
        audit(AuditEvent.LOCKOUT_LIFTED, actor=user, lifted=lifted, **details)
    return lifted
