"""What changes the state of series and cards. Views, commands and tasks all call these."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from billing.currencies import is_iso_currency
from billing.models import Account, Transaction
from billing.services import account_credit
from resellers.models import Reseller
from resellers.scoping import reseller_ids_visible_to

from . import generation
from .models import Card, RedemptionAttempt, Series, audit
from .pins import InvalidPin, pin_service

GENERATION_LOCK = 7_460_001  # pg_advisory_xact_lock key serialising generation


# --- Generation -------------------------------------------------------------------------------
def _generation_lock() -> None:
    """Serialise generations: numbering and the PIN collision check assume one at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GENERATION_LOCK])
    # SQLite: transactions take the database write lock on BEGIN (transaction_mode IMMEDIATE).


def _next_number(code: str) -> int:
    """Numbers continue after every earlier series of the code, deleted cards included."""
    last = (
        Series.objects.filter(code=code)
        .exclude(state=Series.State.FAILED)
        .aggregate(end=Max(F("first_number") + F("quantity")))["end"]
    )
    return last or 1


def live_cards_by_length() -> dict[int, int]:
    rows = (
        Card.objects.redeemable()
        .values("series__pin_length")
        .annotate(n=Count("pk"))
        .values_list("series__pin_length", "n")
    )
    return dict(rows)


def safe_pin_length(quantity: int, live: dict[int, int], start: int) -> int | None:
    ratio = settings.TOPUP_MAX_GUESS_RATIO
    for length in range(start, pin_service.max_length + 1):
        if live.get(length, 0) + quantity <= ratio * 10**length:
            return length
    return None


def check_guessing_guard(*, quantity: int, pin_length: int) -> None:
    """Refuse a series that makes a random guess too likely to hit a live card."""
    live = live_cards_by_length()
    if safe_pin_length(quantity, live, pin_length) == pin_length:
        return
    safe = safe_pin_length(quantity, live, pin_service.min_length)
    ratio = settings.TOPUP_MAX_GUESS_RATIO
    would_be = (live.get(pin_length, 0) + quantity) / 10**pin_length
    message = (
        f"With {pin_length}-digit PINs, one guess in {math.floor(1 / would_be):,} would hit a "
        f"live card (the limit is 1 in {round(1 / ratio):,})."
    )
    if safe is None:
        message += " No PIN length is safe for this quantity."
    else:
        message += f" Use a PIN length of at least {safe} digits."
    raise ValidationError({"pin_length": message})


@dataclass(frozen=True)
class SeriesRequest:
    reseller: Reseller
    amount: Decimal
    quantity: int
    code: str
    pin_length: int = pin_service.default_length
    expires_at: datetime | None = None
    currency: str = ""


def validate_series_request(*, user, request: SeriesRequest) -> SeriesRequest:
    errors = {}
    amount = request.amount
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        errors["amount"] = "The amount must be greater than zero."
    elif amount.as_tuple().exponent < -2:
        errors["amount"] = "The amount has at most 2 decimals."
    elif amount >= Decimal("1e12"):
        errors["amount"] = "The amount is too large."
    if not 1 <= request.quantity <= 1_000_000:
        errors["quantity"] = "The quantity must be from 1 to 1,000,000."
    if not (request.code.isascii() and request.code.isalnum() and len(request.code) <= 20):
        errors["code"] = "The series code is 1 to 20 letters and digits."
    try:
        pin_service.check_length(request.pin_length)
    except InvalidPin as exc:
        errors["pin_length"] = str(exc)
    if request.reseller.pk not in reseller_ids_visible_to(user):
        errors["reseller"] = "Choose a reseller in your part of the tree."
    if request.expires_at is not None and request.expires_at <= timezone.now():
        errors["expires_at"] = "The expiry date must be in the future (or empty: no expiry)."
    currency = request.currency or request.reseller.currency
    if not is_iso_currency(currency):
        errors["currency"] = "Enter a known ISO 4217 currency code."
    if errors:
        raise ValidationError(errors)
    return SeriesRequest(**{**request.__dict__, "currency": currency})


def series_generate(
    *, user, request: SeriesRequest, background: bool | None = None, progress=None
) -> Series:
    """Generate a series of cards, all or nothing.

    Small series are written at once, in this transaction. Larger ones (above
    TOPUP_BACKGROUND_THRESHOLD, or `background=True`) reserve their numbers now and are written
    by the task worker (`series_fill`); the series page shows their progress.
    `progress(done)` is called after each batch written here (the command's progress bar).
    Raises ValidationError (by field) for bad input, PermissionDenied without the right.
    """
    if not user.has_perm("topup.generate_series"):
        raise PermissionDenied
    request = validate_series_request(user=user, request=request)
    if background is None:
        background = request.quantity > settings.TOPUP_BACKGROUND_THRESHOLD
    with transaction.atomic():
        _generation_lock()
        check_guessing_guard(quantity=request.quantity, pin_length=request.pin_length)
        series = Series.objects.create(
            code=request.code,
            amount=request.amount,
            currency=request.currency,
            quantity=request.quantity,
            first_number=_next_number(request.code),
            pin_length=request.pin_length,
            reseller=request.reseller,
            expires_at=request.expires_at,
            state=Series.State.PENDING if background else Series.State.RUNNING,
            created_by=user,
        )
        if background:
            from .tasks import fill_series

            transaction.on_commit(lambda: fill_series.enqueue(series.pk))
            return series
        _fill(series, progress)
    return series


def _fill(series: Series, progress=None) -> None:
    redrawn = generation.write_cards(series, progress)
    Series.objects.filter(pk=series.pk).update(
        state=Series.State.DONE, progress=series.quantity, error=""
    )
    series.state, series.progress = Series.State.DONE, series.quantity
    audit(
        "series.generated",
        actor=series.created_by,
        series=series.pk,
        code=series.code,
        quantity=series.quantity,
        amount=str(series.amount),
        currency=series.currency,
        reseller=series.reseller_id,
        first_number=series.first_number,
        pin_length=series.pin_length,
        redrawn=redrawn,
    )


def _progress_reporter(series: Series):
    """Write progress on a second connection, visible while the cards are uncommitted."""
    if connection.vendor != "postgresql":
        return None  # SQLite has one writer at a time; the demo shows the state only.

    def report(done: int) -> None:
        with connections["progress"].cursor() as cursor:
            cursor.execute(
                f"UPDATE {Series._meta.db_table} SET progress = %s WHERE id = %s",
                [done, series.pk],
            )

    return report


def series_fill(*, series_id: int) -> Series:
    """Write the cards of a series reserved by `series_generate`, all or nothing.

    On failure no card is left and the series says why (state failed).
    """
    series = Series.objects.select_related("created_by").get(pk=series_id)
    if series.state != Series.State.PENDING:
        return series
    Series.objects.filter(pk=series.pk).update(state=Series.State.RUNNING)
    try:
        with transaction.atomic():
            _generation_lock()
            check_guessing_guard(quantity=series.quantity, pin_length=series.pin_length)
            _fill(series, _progress_reporter(series))
    except Exception as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        with transaction.atomic():
            Series.objects.filter(pk=series.pk).update(
                state=Series.State.FAILED, progress=0, error=message[:2000]
            )
            audit("series.failed", actor=series.created_by, series=series.pk, error=message)
        series.state, series.error = Series.State.FAILED, message
        if not isinstance(exc, ValidationError):
            raise
    return series


# --- Reading PINs -------------------------------------------------------------------------
@sensitive_variables("pin")
def card_reveal_pin(*, user, card: Card) -> str:
    """The plain PIN of one card, for a user with the reveal right; audited."""
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    pin = pin_service.decrypt(card.pin_encrypted, card.pin_key_version, card.number)
    audit("card.pin_revealed", actor=user, card=card.pk, number=card.number)
    return pin


# --- Mass edit and delete -----------------------------------------------------------------
@dataclass(frozen=True)
class MassEdit:
    """One mode per field, as on the Mass Edit form."""

    expiry_mode: str = "preserve"  # preserve | set | clear
    expires_at: datetime | None = None
    reseller_mode: str = "preserve"  # preserve | set
    reseller: Reseller | None = None
    status_mode: str = "preserve"  # preserve | block | unblock

    def changes(self) -> dict:
        changes = {}
        if self.expiry_mode == "set":
            changes["expires_at"] = self.expires_at
        elif self.expiry_mode == "clear":
            changes["expires_at"] = None
        if self.reseller_mode == "set":
            changes["reseller"] = self.reseller
        if self.status_mode == "block":
            changes["status"] = Card.Status.BLOCKED
        elif self.status_mode == "unblock":
            changes["status"] = Card.Status.NEW
        return changes

    def describe(self) -> dict:
        return {
            key: (value.pk if isinstance(value, Reseller) else value)
            for key, value in self.changes().items()
        } | ({"expires_at": self.expires_at.isoformat()} if self.expiry_mode == "set" else {})


@dataclass(frozen=True)
class MassEditResult:
    changed: int
    skipped: int


def cards_in_scope(*, user, cards):
    """`cards` narrowed to the user's reseller subtree: the guard every bulk action passes."""
    return cards.filter(reseller_id__in=reseller_ids_visible_to(user))


def cards_mass_update(*, user, cards, edit: MassEdit, selection: dict) -> MassEditResult:
    """Apply `edit` to the cards (a queryset) in the user's scope, in one transaction.

    Activated cards are never changed: they are counted as skipped. One UPDATE, no per-row
    saves; one audit event with the selection, the changes and the counts.
    """
    if not user.has_perm("topup.mass_edit_cards"):
        raise PermissionDenied
    changes = edit.changes()
    if edit.reseller_mode == "set" and (
        edit.reseller is None or edit.reseller.pk not in reseller_ids_visible_to(user)
    ):
        raise ValidationError({"reseller": "Choose a reseller in your part of the tree."})
    if edit.expiry_mode == "set" and edit.expires_at is None:
        raise ValidationError({"expires_at": "Enter the new expiry date."})
    cards = cards_in_scope(user=user, cards=cards)
    with transaction.atomic():
        skipped = cards.filter(status=Card.Status.ACTIVATED).count()
        changed = cards.exclude(status=Card.Status.ACTIVATED).update(**changes) if changes else 0
        audit(
            "cards.mass_edited",
            actor=user,
            selection=selection,
            changes=edit.describe(),
            changed=changed,
            skipped=skipped,
        )
    return MassEditResult(changed=changed, skipped=skipped)


def cards_delete(*, user, cards, selection: dict) -> int:
    """Delete the cards (a queryset) in the user's scope; operators only.

    The ledger keeps activated cards' transactions whole: they hold the card number and amount
    in their own columns and do not point at the card.
    """
    if not user.has_perm("topup.delete_card"):
        raise PermissionDenied
    cards = cards_in_scope(user=user, cards=cards)
    with transaction.atomic():
        deleted, _ = cards.delete()
        audit("cards.deleted", actor=user, selection=selection, deleted=deleted)
    return deleted


def cards_export_rows(*, user, cards, selection: dict):
    """Rows (serial, amount, currency, expiry, PIN) for the card printer; audited up front."""
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    cards = cards_in_scope(user=user, cards=cards).order_by("number")
    with transaction.atomic():
        audit("cards.exported", actor=user, selection=selection, count=cards.count())
    fields = ["number", "amount", "currency", "expires_at", "pin_encrypted", "pin_key_version"]
    for number, amount, currency, expires_at, token, version in cards.values_list(*fields).iterator(
        chunk_size=5000
    ):
        pin = pin_service.decrypt(token, version, number)
        yield number, amount, currency, expires_at.isoformat() if expires_at else "", pin


# --- Redemption ---------------------------------------------------------------------------
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
    """(whose failures: "account" or "address", limit, window in seconds)."""
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
        .values_list("account_id", "client_address", "created_at")
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
            f" WHERE ({quote('account_id')} = %s OR {quote('client_address')} = %s)"
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
    failures = _recent_failures(Q(account_id=account_id) | Q(client_address=address))
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


@sensitive_variables("typed_pin")
def card_redeem(
    *, account: Account, typed_pin: str, client_address: str, user=None
) -> RedeemResult:
    """Redeem a PIN for `account`: exactly once, whatever runs in parallel.

    In one transaction, under locks on the account and the client address: the recent
    failures are counted (a locked-out request is refused with a wait, its PIN never looked
    at); a single conditional UPDATE moves the card from new to activated only if this account
    may redeem it (owner is the account's reseller or an ancestor, same currency); only if it
    changed one row is the account credited through the ledger, whose unique reference makes a
    second credit of one card impossible; the attempt and, for a refusal, its reason are
    recorded. A refusal's result never says why.
    """
    try:
        with transaction.atomic():
            _lock_attempts(account=account, address=client_address)
            wait = lockout_retry_after(account_id=account.pk, address=client_address)
            if wait:
                return RedeemResult(outcome="locked", retry_after=wait)
            result = _redeem(account=account, typed_pin=typed_pin, user=user)
            RedemptionAttempt.objects.create(
                account=account,
                client_address=client_address,
                outcome=result.outcome,
                reason=result.reason,
                card_number=result.card_number,
            )
            if result.outcome == "failed":
                audit(
                    "card.redemption_failed",
                    actor=user,
                    account=account.pk,
                    reason=result.reason,
                    card=result.card_number,
                    address=client_address,
                )
    except Exception:
        # Nothing of the attempt survived the rollback; it still counts against the lockout.
        RedemptionAttempt.objects.create(
            account=account,
            client_address=client_address,
            outcome=RedemptionAttempt.Outcome.FAILED,
            reason="error",
        )
        raise
    if result.outcome == "failed":
        # Whatever went wrong, the customer learns nothing about which PINs exist.
        return RedeemResult(outcome="failed")
    return result


@sensitive_variables("typed_pin", "pin")
def _redeem(*, account: Account, typed_pin: str, user) -> RedeemResult:
    try:
        pin = pin_service.normalise(typed_pin)
        pin_service.check_length(len(pin))
    except InvalidPin:
        return RedeemResult(outcome="failed", reason="malformed")
    digest = pin_service.digest(pin)
    owners = account.reseller.ancestors_and_self()
    activated = Card.objects.activate(digest=digest, account=account, owners=owners)
    if activated is None:
        card = Card.objects.filter(pin_digest=digest).first()
        if card is None:
            return RedeemResult(outcome="failed", reason="unknown")
        own = card.activated_by_id == account.pk
        return RedeemResult(
            outcome="already" if own else "failed",
            reason=_refusal_reason(card, account, owners),
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
    )
    return RedeemResult(
        outcome="success", amount=amount, balance=posting.balance_after, card_number=number
    )


def _refusal_reason(card: Card, account: Account, owners: list[int]) -> str:
    if card.status == Card.Status.ACTIVATED:
        return "already_own" if card.activated_by_id == account.pk else "used_by_other"
    if card.status == Card.Status.BLOCKED:
        return "blocked"
    if card.expires_at is not None and card.expires_at <= timezone.now():
        return "expired"
    if card.reseller_id not in owners:
        return "foreign_reseller"
    if card.currency != account.currency:
        return "foreign_currency"
    return "not_redeemable"


def lockout_lift(*, user, account_id: int | None = None, address: str = "") -> int:
    """Forgive the counted failures of an account or a client address; audited."""
    if not user.has_perm("topup.lift_lockout"):
        raise PermissionDenied
    if account_id is None and not address:
        raise ValidationError("Name an account or a client address.")
    where = Q(account_id=account_id) if account_id is not None else Q(client_address=address)
    with transaction.atomic():
        lifted = RedemptionAttempt.objects.filter(
            where, outcome=RedemptionAttempt.Outcome.FAILED, lifted=False
        ).update(lifted=True)
        audit("lockout.lifted", actor=user, account=account_id, address=address, lifted=lifted)
    return lifted
