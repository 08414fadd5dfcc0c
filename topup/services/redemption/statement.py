"""The redemption's SQL, in one place: the attempt locks and the one crediting statement.

Nothing outside this module builds redemption SQL, and no SQL text comes in: callers pass a
`Redemption` (typed values), and an API call its `IdempotencyClaim` (`idempotency.py`), from
which this module writes the API's record of a credit. The posting (balance and ledger row)
is built here from billing's model metadata; billing's own `account_post` runs the same
writes as its own statement.

Lock order, everywhere a redemption takes locks: the account's row first, then the card's
(the activation `UPDATE`), then a consignment owner's wallet (card before wallet, as in the
bulk engine). The locked way takes the account's row and the client's advisory lock (its API
key's, else its address's) in one statement before anything else; the crediting
statement without the client's lock takes the account's row in its gate, before the card. A
credit that waits for an account therefore holds nothing of the card, and no two redemptions
wait for each other in a circle.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from billing.models import Account, Transaction, as_money
from config.postgresql.prepared import execute_prepared
from resellers.models import AuditEvent
from wallets.models import SeriesDiscount, Wallet, WalletEntry
from wallets.pricing import PRICE_SQL
from webhooks.events import deliver_soon
from webhooks.models import Event, EventType, Subscription

from ...models import Card, RedemptionAttempt
from .idempotency import Credit, IdempotencyClaim
from .outcome import RedeemOutcome, RedeemResult

# What a card's credit is called in the ledger: "Top-up card 101-00000007", "topup.card:42".
LEDGER_DESCRIPTION = "Top-up card "
LEDGER_REFERENCE = "topup.card:"


# A lockout rule as the gate applies it: whose failures, the limit, the window's start.
Limit = tuple[str, int, datetime]


@dataclass(frozen=True)
class Redemption:
    """One redemption request, in typed values: who, what PIN (as digests), from where."""

    account: Account
    digests: list[str] | None  # None: cannot be a PIN
    owners: list[int]  # the account's reseller and its ancestors
    address: str
    network: str  # the lockout key of the address (`config.client_address.address_key`)
    api_key: str = ""
    user: object = None  # the actor: the customer, a support user, or none (the API)
    staff: object = None
    note: str = ""
    idempotency: IdempotencyClaim | None = None


def _columns(model: type[Model], *names: str) -> str:
    return ", ".join(model._meta.get_field(name).column for name in names)


def lock_attempts(redemption: Redemption) -> Decimal:
    """Lock the account's row and the client's attempt lock until commit; its balance.

    One statement, one round trip. The client is the API key for API calls, else the address
    (its lockout key). Taken before anything of the attempt is read or written, so one
    account's and one client's counted attempts run one at a time on any number of servers.
    """
    client = (
        f"topup.api_key:{redemption.api_key}"
        if redemption.api_key
        else f"topup.address:{redemption.network}"
    )
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            "SELECT pg_advisory_xact_lock(hashtext(%s)), balance"
            f" FROM {Account._meta.db_table} WHERE id = %s FOR UPDATE",
            [client, redemption.account.pk],
        )
        return as_money(cursor.fetchone()[1])


_FAILED = RedemptionAttempt.Outcome.FAILED.value
assert _FAILED.isalpha()  # written into SQL as a literal


# Whose failures a rule counts, as SQL over the attempt log: an account's (web and API alike),
# an address's web attempts, an API key's attempts.
_WHOSE = {
    "account": "account_id = %s",
    "address": "client_network = %s AND api_key = ''",
    "api_key": "api_key = %s AND api_key <> ''",
}


def live_failures_sql(*, whose: str, target, since: datetime, limit: int) -> tuple[str, list]:
    """A query for how many live failures (reservations included) count against `target`
    since `since`, counted up to `limit` (what the lockout needs to know, and no more).

    What the partial indexes of `RedemptionAttempt` are conditioned on (a failure, not lifted,
    with or without a key) is written as literals, not parameters: the query runs inside
    prepared statements, whose generic plan can use a partial index only when the query's
    own text implies the index's condition.
    """
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM {RedemptionAttempt._meta.db_table}"
        f" WHERE {_WHOSE[whose]} AND outcome = '{_FAILED}' AND NOT lifted"
        " AND created_at > %s LIMIT %s) AS counted",
        [target, connection.ops.adapt_datetimefield_value(since), limit],
    )


def _targets(redemption: Redemption) -> dict[str, object]:
    """What each rule counts against for this redemption: an API call's key, not the
    gateway's address; a web call's address."""
    if redemption.api_key:
        return {"account": redemption.account.pk, "api_key": redemption.api_key}
    return {"account": redemption.account.pk, "address": redemption.network}


def _gate_sql(redemption: Redemption, limits: Sequence[Limit]) -> tuple[str, list]:
    """True when every rule that applies counts fewer live failures than its limit."""
    targets = _targets(redemption)
    conditions, params = [], []
    for whose, limit, since in limits:
        if whose in targets:
            count, count_params = live_failures_sql(
                whose=whose, target=targets[whose], since=since, limit=limit
            )
            conditions.append(f"({count}) < %s")
            params += [*count_params, limit]
    return " AND ".join(conditions) or "true", params


def _held_sql(claim: IdempotencyClaim | None) -> tuple[str, list]:
    """Whether an answer is stored for the claim's idempotency key, as an SQL condition."""
    if claim is None:
        return "false", []
    return (
        f"EXISTS (SELECT 1 FROM {claim.record._meta.db_table}"
        f" WHERE {_columns(claim.record, 'api_key')} = %s"
        f" AND {_columns(claim.record, 'key')} = %s)",
        [claim.api_key_id, claim.key],
    )


# A credit's values as the crediting statement's CTEs hold them (`card`, `posted`).
_CREDIT_SQL = {
    Credit.AMOUNT: "card.amount::text",  # numeric(14, 2): its text has exactly two decimals
    Credit.BALANCE: "posted.balance_after::text",
    Credit.CARD: "card.number",
    Credit.CURRENCY: "card.currency",  # the account's: the activation requires it
}


def _credited_record_sql(claim: IdempotencyClaim) -> tuple[str, list]:
    """The claim's record of a credit, as one more CTE of the crediting statement."""
    status, body = claim.answers[RedeemOutcome.SUCCESS]
    pairs, params = [], []
    for name, value in body.items():
        if isinstance(value, Credit):
            pairs.append(f"%s::text, {_CREDIT_SQL[value]}")
            params.append(name)
        else:
            pairs.append("%s::text, %s::text")
            params += [name, value]
    record = claim.record
    columns = _columns(record, "api_key", "key", "fingerprint", "status_code", "body", "created_at")
    return (
        f"INSERT INTO {record._meta.db_table} ({columns})"
        f" SELECT %s, %s, %s, %s, jsonb_build_object({', '.join(pairs)}), %s::timestamptz"
        " FROM card, posted",
        [
            claim.api_key_id,
            claim.key,
            claim.fingerprint,
            status,
            *params,
            connection.ops.adapt_datetimefield_value(claim.created_at),
        ],
    )


def _webhook_sql(redemption: Redemption) -> tuple[str, list]:
    """The `card.redeemed` webhook event, as one more CTE of the crediting statement: written
    only when an active subscription of the account's reseller or one above it wants it (a
    probe of the small subscriptions table; no row, no cost beyond it otherwise)."""
    event = _columns(Event, "type", "reseller", "data", "created_at", "dispatched")
    sub = Subscription._meta
    return (
        f"INSERT INTO {Event._meta.db_table} ({event})"
        " SELECT %s, %s::bigint, jsonb_build_object('account', %s::text, 'card', number,"
        " 'amount', amount::text, 'currency', currency), STATEMENT_TIMESTAMP(), false"
        f" FROM card WHERE EXISTS (SELECT 1 FROM {sub.db_table}"
        f" WHERE {sub.get_field('active').column}"
        f" AND {sub.get_field('events').column} @> %s::jsonb"
        f" AND {sub.get_field('reseller').column} = ANY(%s))"
        " RETURNING 1",
        [
            EventType.CARD_REDEEMED.value,
            redemption.account.reseller_id,
            redemption.account.number,
            json.dumps([EventType.CARD_REDEEMED.value]),
            redemption.owners,
        ],
    )


_CONSIGNMENT = Wallet.BillingMode.CONSIGNMENT.value
_REDEMPTION = WalletEntry.Kind.REDEMPTION.value
assert _CONSIGNMENT.isalpha() and _REDEMPTION.isalpha()  # written into SQL as literals
_PRICE = PRICE_SQL.format(amount="card.amount", sd="sd", w="w")


def _consignment_sql() -> str:
    """The consignment debit, as two more CTEs of the crediting statement: the card's owner's
    wallet, if it bills on consignment in the card's currency, pays the card's price (its
    row locked after the card's: the lock order of the bulk engine too) and one entry says
    so, its reference `card:<id>` unique (a card is billed once, whatever races). The mode
    and price are read on the wallet row the UPDATE locks (re-checked after a wait)."""
    wallet, entry, series = Wallet._meta, WalletEntry._meta, SeriesDiscount._meta
    columns = _columns(
        WalletEntry,
        "wallet", "amount", "balance_after", "kind", "cards", "reference", "note", "created_at",
    )  # fmt: skip
    return f"""
    billed AS (
        UPDATE {wallet.db_table} AS w SET balance = w.balance - {_PRICE}
        FROM card LEFT JOIN {series.db_table} AS sd
            ON sd.reseller_id = card.reseller_id AND sd.series_id = card.series_id
        WHERE w.reseller_id = card.reseller_id AND w.billing_mode = '{_CONSIGNMENT}'
            AND w.currency = card.currency AND {_PRICE} > 0
        RETURNING w.id, w.balance, {_PRICE} AS price, card.id AS card_id, card.number
    ),
    billed_entry AS (
        INSERT INTO {entry.db_table} ({columns})
        SELECT id, -price, balance, '{_REDEMPTION}', 1, 'card:' || card_id::text, number,
            STATEMENT_TIMESTAMP()
        FROM billed
    ),"""


def _audit_base(redemption: Redemption) -> dict:
    """The details of a "card redeemed" audit row that do not come from the card."""
    return {
        "account": redemption.account.pk,
        **({"api_key": redemption.api_key} if redemption.api_key else {}),
        **({"note": redemption.note} if redemption.note else {}),
    }


@dataclass(frozen=True)
class Ran:
    """What the crediting statement did."""

    opened: bool  # the gate was open (always, ungated)
    held: bool  # the claim's answer is stored already: nothing was done
    balance: Decimal  # the account's, read under its row lock (after the credit, if any)
    credited: RedeemResult | None  # the success, if the card was credited


def credit(redemption: Redemption, *, limits: Sequence[Limit] | None) -> Ran:
    """The account's row lock, the lockout gate, the activation, the credit and ledger row,
    the attempt, the audit row, the claim's record and the webhook event, in one statement
    (data-modifying CTEs run to completion, and every one of them only for the card the
    activation returned).

    The gate locks the account's row before the activation touches the card (the lock order).
    Gated (`limits` given: the lockout's rules, see `lockout.gate_limits`), it opens only if
    every rule that applies counts fewer live failures, reservations included, than its limit,
    and no answer is stored for the claim; a closed gate or a stored answer changed nothing.
    The statement's snapshot is taken when it starts, so its counts are those committed then,
    whatever it waited for afterwards (the account's row): see `card_redeem` for why that is
    enough for a statement that can only credit.
    """
    account = redemption.account
    now = timezone.now()
    if limits is not None:
        opened, open_params = _gate_sql(redemption, limits)
        held, held_params = _held_sql(redemption.idempotency)
    else:
        (opened, open_params), (held, held_params) = ("true", []), ("false", [])
    gate = (
        f"SELECT (SELECT balance FROM {Account._meta.db_table} WHERE id = %s FOR UPDATE)"
        f" AS balance, {opened} AS open, {held} AS held"
    )
    gate_params = [account.pk, *open_params, *held_params]
    activation, activation_params = Card.objects.activation_sql(
        digests=redemption.digests,
        account=account,
        owners=redemption.owners,
        when=now,
        also="(SELECT open AND NOT held AND balance IS NOT NULL FROM gate)",
    )
    hook, hook_params = _webhook_sql(redemption)
    rider, rider_params = (
        _credited_record_sql(redemption.idempotency) if redemption.idempotency else ("", [])
    )
    when = connection.ops.adapt_datetimefield_value(now)
    actor = redemption.user.pk if redemption.user and redemption.user.is_authenticated else None
    staff = redemption.staff.pk if redemption.staff is not None else None
    ledger = _columns(
        Transaction,
        "account", "amount", "balance_after", "kind", "description", "reference", "created_by",
        "created_at",
    )  # fmt: skip
    attempt = _columns(
        RedemptionAttempt,
        "account", "client_address", "client_network", "api_key", "outcome", "reason",
        "card_number", "lifted", "staff", "note", "created_at",
    )  # fmt: skip
    sql = f"""
    WITH gate AS ({gate}),
    card AS ({activation}),
    moved AS (
        UPDATE {Account._meta.db_table} AS a SET balance = a.balance + card.amount
        FROM card WHERE a.id = %s
        RETURNING a.balance AS balance_after
    ),
    posted AS (
        INSERT INTO {Transaction._meta.db_table} ({ledger})
        SELECT %s::bigint, card.amount, moved.balance_after, %s::varchar,
            %s::text || card.number, %s::text || card.id::text, %s::bigint, STATEMENT_TIMESTAMP()
        FROM card, moved
        RETURNING balance_after
    ),
    attempt AS (
        INSERT INTO {RedemptionAttempt._meta.db_table} ({attempt})
        SELECT %s::bigint, %s::inet, %s, %s, %s, '', number, false, %s::bigint, %s,
            %s::timestamptz
        FROM card
    ),
    {_consignment_sql()}
    event AS (
        INSERT INTO {AuditEvent._meta.db_table} (action, actor_id, details, created_at)
        SELECT %s, %s::bigint, %s::jsonb || jsonb_build_object(
            'card', number, 'amount', amount::text, 'currency', currency), %s::timestamptz
        FROM card
    ),
    hook AS ({hook}){f", rider AS ({rider})" if rider else ""}
    SELECT gate.open, gate.held, gate.balance, card.number, card.amount, posted.balance_after,
        (SELECT count(*) FROM hook)
    FROM gate LEFT JOIN card ON true LEFT JOIN posted ON true
    """
    params = [
        *gate_params,
        *activation_params,
        account.pk,
        account.pk,
        Transaction.Kind.TOPUP_CARD,
        LEDGER_DESCRIPTION,
        LEDGER_REFERENCE,
        actor,
        account.pk,
        redemption.address,
        redemption.network,
        redemption.api_key,
        RedeemOutcome.SUCCESS,
        staff,
        redemption.note if staff is not None else "",
        when,
        AuditEvent.Action.CARD_REDEEMED,
        actor,
        json.dumps(_audit_base(redemption)),
        when,
        *hook_params,
        *rider_params,
    ]
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        opened, held, balance, number, amount, balance_after, hooked = cursor.fetchone()
    if hooked:
        deliver_soon()  # after the commit: at once outside a transaction
    if number is None:
        return Ran(opened=opened, held=held, balance=as_money(balance), credited=None)
    account.balance = as_money(balance_after)
    return Ran(
        opened=True,
        held=False,
        balance=account.balance,
        credited=RedeemResult(
            outcome=RedeemOutcome.SUCCESS,
            amount=as_money(amount),
            balance=account.balance,
            card_number=number,
        ),
    )
