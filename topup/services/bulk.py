"""Actions on many cards at once (mass edit, delete, ...), export, and reading one PIN.

How a bulk action holds under load
----------------------------------
Every bulk action walks its selection in id order, in bounded chunks (keyset: the ids of the
search after the last one done), locking each chunk's rows as it reads them, in id order
(`SELECT ... ORDER BY id LIMIT n FOR UPDATE OF card`), and then changes only those that satisfy
the action's *may-change* condition. That condition is evaluated on the row itself, after its
lock is taken (PostgreSQL re-evaluates a locking SELECT on the row's newest version after a
wait, and the write re-checks it), so a card a redemption activated a moment ago is skipped,
never changed.
Hence:

- counts are true: `changed` rows were written, `skipped` = walked - changed, and
  changed + skipped = the cards selected;
- two bulk actions lock rows in the same (id) order, so they wait for each other and never
  deadlock; a redemption locks one card, so it cannot deadlock with them either. A deadlock,
  serialisation failure or lock timeout that still happens is retried (`TOPUP_BULK_RETRIES`
  times, the whole transaction) and then refused with a clear message (`BulkBusy`), never a 500;
- a selection up to `TOPUP_BULK_BACKGROUND_THRESHOLD` cards is one transaction (all or nothing);
  a larger one becomes a `BulkJob` run by the task worker, one short transaction per chunk (see
  `topup/services/jobs.py` for what that guarantees and what it does not).

Adding a bulk action (the extension point)
------------------------------------------
Subclass `BulkAction` (a frozen dataclass whose fields are the action's parameters), register it
with `@bulk_action`, and call `cards_bulk_apply(user=..., action=..., cards=..., selection=...)`:

    @bulk_action
    @dataclass(frozen=True)
    class Void(BulkAction):
        kind = "void"                      # registry key, stored on background jobs
        title = "Void"                     # shown on the job page
        right = "topup.void_card"          # permission checked before anything happens
        audit_action = "cards.voided"      # one audit event, with the counts, when applied
        verb = "voided"                    # the result: "27 cards voided, 3 skipped"

        def may_change(self) -> Q:         # on the card's OWN columns only (no joins)
            return Q(status__in=["new", "in_stock", "blocked"])

        def changes(self) -> dict | None:  # field -> plain value; None means DELETE the rows
            return {"status": "void"}

`validate(user)` refuses bad parameters (ValidationError by field), `check(user, cards)` refuses
a selection this user may not touch (four eyes), `describe()` gives the JSON
parameters (audit and jobs) and `from_description()` rebuilds the action from them in the
worker. Activated cards are never changed by the default `may_change`.
"""

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import DatabaseError, connection, models, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils.dateparse import parse_datetime
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from resellers.models import Reseller
from resellers.scoping import reseller_ids_visible_to

from ..models import FINAL_STATUSES, Card, audit_cards, card_runs
from ..pins import pin_service
from .four_eyes import four_eyes_check

logger = logging.getLogger(__name__)


@sensitive_variables("pin")
def card_reveal_pin(*, user, card: Card) -> str:
    """The plain PIN of one card, for a user with the reveal right; audited."""
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    four_eyes_check(user=user, cards=card, action="reveal the PIN of a card of")
    pin = pin_service.decrypt(card.pin_encrypted, card.pin_key_version, card.number)
    with transaction.atomic():
        audit_cards(
            "card.pin_revealed",
            actor=user,
            card=card.pk,
            number=card.number,
            runs=[(card.pk, card.pk)],
        )
    return pin


# --- The bulk action contract ----------------------------------------------------------------
BULK_ACTIONS: dict[str, type["BulkAction"]] = {}


def bulk_action(cls):
    """Register a BulkAction subclass under its `kind` (background jobs rebuild it by kind)."""
    BULK_ACTIONS[cls.kind] = cls
    return cls


class BulkAction:
    """One kind of change to many cards. See the module docstring for how to add one."""

    kind: ClassVar[str]
    title: ClassVar[str]
    right: ClassVar[str]
    audit_action: ClassVar[str]
    verb: ClassVar[str] = "changed"  # "27 cards changed", "27 cards deleted"
    skip_note: ClassVar[str] = ""  # why cards are skipped; default: activated never {verb}

    @classmethod
    def skipped_because(cls) -> str:
        return cls.skip_note or f"activated cards are never {cls.verb}"

    def may_change(self) -> Q:
        """Which rows may change, on the card's own columns: checked on each row under its lock."""
        return ~Q(status=Card.Status.ACTIVATED)

    def changes(self) -> dict | None:
        """{field name: plain value or expression on the card's own columns} to set, or None
        to delete the rows."""
        raise NotImplementedError

    def validate(self, *, user) -> None:
        """Raise ValidationError (by field) for parameters this user may not use."""

    def check(self, *, user, cards) -> None:
        """Raise ValidationError when this user may not apply it to these cards (the
        selection, already in scope), e.g. four eyes; run before any card changes."""

    def describe(self) -> dict:
        """The parameters as JSON (the audit event and a background job keep them)."""
        return {}

    @classmethod
    def from_description(cls, data: dict) -> "BulkAction":
        return cls()

    def summary(self) -> str:
        """What it does, in words, for the job page."""
        return self.title


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did; in the background, `job` is set and the counts are still 0."""

    changed: int = 0
    skipped: int = 0
    job: object | None = None

    @property
    def selected(self) -> int:
        return self.changed + self.skipped


# Kept under its old name: mass edit callers read `.changed` and `.skipped`.
MassEditResult = BulkResult


class BulkBusy(ValidationError):
    """Other work kept colliding with the action after every retry; nothing (more) was changed."""


# --- Mass edit and delete --------------------------------------------------------------------
@bulk_action
@dataclass(frozen=True)
class MassEdit(BulkAction):
    """One mode per field, as on the Mass Edit form."""

    kind: ClassVar[str] = "mass_edit"
    title: ClassVar[str] = "Mass edit"
    right: ClassVar[str] = "topup.mass_edit_cards"
    audit_action: ClassVar[str] = "cards.mass_edited"

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
            # Back to where it was: new if it had been released, else in stock.
            changes["status"] = Card.unblocked_status()
        return changes

    skip_note: ClassVar[str] = "activated and void cards are never changed"

    def may_change(self) -> Q:
        """Activated and void cards are never changed (void is for good: never unblocked); a
        card moves only to a company of its own currency."""
        condition = ~Q(status__in=FINAL_STATUSES)
        if self.reseller_mode == "set" and self.reseller is not None:
            condition &= Q(currency=self.reseller.currency)
        return condition

    def check(self, *, user, cards) -> None:
        """A company's customers redeem cards of its currency only: moving cards of another
        currency to it would strand them, so the whole edit is refused, saying why."""
        if self.reseller_mode != "set" or self.reseller is None:
            return
        target = self.reseller.currency
        others = cards.filter(~Q(status__in=FINAL_STATUSES)).exclude(currency=target)
        currencies = sorted(set(others.values_list("currency", flat=True).distinct()[:4]))
        if currencies:
            count = others.count()
            raise ValidationError(
                {
                    "reseller": (
                        f"{self.reseller} works in {target}, but "
                        f"{ngettext('%(n)s card', '%(n)s cards', count) % {'n': f'{count:,}'}} "
                        f"of this selection {ngettext('is', 'are', count)} in "
                        f"{', '.join(currencies)}: its customers could never redeem "
                        f"{ngettext('it', 'them', count)}. Choose a company that works in "
                        f"{' or '.join(currencies)}, or narrow the selection to {target} cards."
                    )
                }
            )

    def validate(self, *, user) -> None:
        if self.status_mode != "preserve" and not user.has_perm("topup.block_cards"):
            raise PermissionDenied
        if self.reseller_mode == "set" and (
            self.reseller is None or self.reseller.pk not in reseller_ids_visible_to(user)
        ):
            raise ValidationError({"reseller": "Choose a reseller in your part of the tree."})
        if self.expiry_mode == "set" and self.expires_at is None:
            raise ValidationError({"expires_at": "Enter the new expiry date."})
        if not self.changes():
            raise ValidationError("Nothing to change: every field is set to preserve.")

    def describe(self) -> dict:
        described = {
            key: (value.pk if isinstance(value, Reseller) else value)
            for key, value in self.changes().items()
        }
        if self.expiry_mode == "set":
            described["expires_at"] = self.expires_at.isoformat()
        if self.status_mode == "unblock":
            described["status"] = "unblocked"
        return described

    def summary(self) -> str:
        parts = []
        if self.expiry_mode == "set":
            parts.append(f"expiry date set to {self.expires_at:%Y-%m-%d %H:%M %Z}")
        elif self.expiry_mode == "clear":
            parts.append("expiry date cleared")
        if self.reseller_mode == "set":
            parts.append(f"company set to {self.reseller}")
        if self.status_mode != "preserve":
            parts.append(f"status: {self.status_mode}")
        return f"{self.title}: {', '.join(parts)}"

    @classmethod
    def from_description(cls, data: dict) -> "MassEdit":
        edit = {}
        if "expires_at" in data:
            when = data["expires_at"]
            edit.update(
                expiry_mode="set" if when else "clear",
                expires_at=parse_datetime(when) if when else None,
            )
        if "reseller" in data:
            reseller = Reseller.objects.filter(pk=data["reseller"]).first()
            if reseller is None:
                raise ValidationError({"reseller": "The new company no longer exists."})
            edit.update(reseller_mode="set", reseller=reseller)
        if "status" in data:
            edit["status_mode"] = "block" if data["status"] == Card.Status.BLOCKED else "unblock"
        return cls(**edit)


@bulk_action
@dataclass(frozen=True)
class Delete(BulkAction):
    """Delete cards for good. Activated cards are kept (skipped): their history stays whole."""

    kind: ClassVar[str] = "delete"
    title: ClassVar[str] = "Delete"
    right: ClassVar[str] = "topup.delete_card"
    audit_action: ClassVar[str] = "cards.deleted"
    verb: ClassVar[str] = "deleted"

    def changes(self) -> None:
        return None


def cards_in_scope(*, user, cards):
    """`cards` narrowed to the user's reseller subtree: the guard every bulk action passes."""
    return cards.filter(reseller_id__in=reseller_ids_visible_to(user))


def cards_mass_update(
    *, user, cards, edit: MassEdit, selection: dict, background: bool | None = None
) -> BulkResult:
    """Apply `edit` to the cards (a queryset) in the user's scope; see `cards_bulk_apply`."""
    return cards_bulk_apply(
        user=user, action=edit, cards=cards, selection=selection, background=background
    )


def cards_delete(*, user, cards, selection: dict, background: bool | None = None) -> BulkResult:
    """Delete the cards (a queryset) in the user's scope, activated ones excepted; operators only.

    The ledger keeps activated cards' transactions whole: they hold the card number and amount
    in their own columns and do not point at the card.
    """
    return cards_bulk_apply(
        user=user, action=Delete(), cards=cards, selection=selection, background=background
    )


def cards_bulk_apply(
    *, user, action: BulkAction, cards, selection: dict, background: bool | None = None
) -> BulkResult:
    """Apply a bulk action to the cards (a queryset) in the user's scope.

    Checks the action's right (PermissionDenied) and parameters (ValidationError). Up to
    TOPUP_BULK_BACKGROUND_THRESHOLD cards (or `background=False`): one transaction, all or
    nothing, with one audit event holding the selection, the changes and the counts. Larger
    selections (or `background=True`): a BulkJob is created for the task worker and the
    result carries it, with no counts yet (see topup/services/jobs.py). The job replays
    `selection` ({"search": query string} or {"cards": ids}, as `cards_for_selection` reads
    it), so it must describe `cards`.
    Raises BulkBusy when retries are exhausted; then nothing was changed.
    """
    if not user.has_perm(action.right):
        raise PermissionDenied
    action.validate(user=user)
    cards = cards_in_scope(user=user, cards=cards)
    action.check(user=user, cards=cards)
    if background is None:
        threshold = settings.TOPUP_BULK_BACKGROUND_THRESHOLD
        background = cards.order_by()[: threshold + 1].count() > threshold
    if background:
        from .jobs import bulk_job_start

        return BulkResult(job=bulk_job_start(user=user, action=action, selection=selection))
    return with_retries(lambda: _apply_in_one_transaction(user, action, cards, selection))


def _apply_in_one_transaction(user, action, cards, selection) -> BulkResult:
    statement = ChunkStatement(action, reseller_ids_visible_to(user))
    changed = selected = 0
    with transaction.atomic():
        statement.start_transaction()
        last_id = 0
        while (chunk := statement.next(cards, after=last_id)).ids:
            changed += chunk.changed
            selected += len(chunk.ids)
            last_id = chunk.ids[-1]
        if selected:  # a selection of no card did nothing worth recording
            audit_cards(
                action.audit_action,
                runs=statement.runs,
                actor=user,
                selection=selection,
                changes=action.describe(),
                selected=selected,
                changed=changed,
                skipped=selected - changed,
            )
    return BulkResult(changed=changed, skipped=selected - changed)


# --- The machinery: chunks, the locking statements, retries -----------------------------------
@dataclass(frozen=True)
class Chunk:
    ids: list[int]  # the cards walked (selected), in id order; empty: the selection is done
    changed: int


class ChunkStatement:
    """Applies an action to the selection chunk by chunk: `next(cards, after=id)` -> Chunk.

    Two statements per chunk, inside the caller's transaction. The walk is a keyset read of
    the next TOPUP_BULK_CHUNK_SIZE ids of the selection after `after` (`ORDER BY id LIMIT n`,
    no OFFSET) that locks those rows as it reads them, in id order (`FOR UPDATE OF` the card
    only), and says for each whether the action may change it (the may-change condition and
    the scope, evaluated on the newest row version after any lock wait). The write then
    updates or deletes exactly the rows that may change, by id, re-checking the condition.

    The ids an UPDATE changed come back (`RETURNING`) and collect in `runs`, so the audit
    event can say exactly which cards it changed (each card's history finds it).
    """

    LOCK_TIMEOUT = "5s"  # a chunk waits this long for a row lock, then the transaction retries

    def __init__(self, action: BulkAction, scope: list[int]):
        self.action = action
        self.scope = scope
        self.changes = action.changes()
        self.guard = action.may_change() & Q(reseller_id__in=scope)
        self.runs: list[tuple[int, int]] = []
        self.sql, self.set_params, self.guard_params = self._write_sql()

    def start_transaction(self) -> None:
        self.runs = []  # a retried transaction starts over
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{self.LOCK_TIMEOUT}'")

    def next(self, cards, *, after: int) -> Chunk:
        rows = list(
            cards.filter(pk__gt=after)
            .order_by("pk")
            .annotate(may_change=ExpressionWrapper(self.guard, output_field=BooleanField()))
            .select_for_update(of=("self",))
            .values_list("pk", "may_change")[: settings.TOPUP_BULK_CHUNK_SIZE]
        )
        targets = [pk for pk, may_change in rows if may_change]
        return Chunk(ids=[pk for pk, _ in rows], changed=self._write(targets) if targets else 0)

    def _write(self, ids: list[int]) -> int:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [*self.set_params, ids, *self.guard_params])
            if self.changes is None:
                return cursor.rowcount
            changed = [row[0] for row in cursor.fetchall()]
        self._record(changed)
        return len(changed)

    def _record(self, changed) -> None:
        self.runs.extend(card_runs(changed)[0])

    def _write_sql(self) -> tuple[str, list, list]:
        query = Card.objects.filter(self.guard).query
        compiler = query.get_compiler(connection=connection)
        guard, guard_params = query.where.as_sql(compiler, connection)
        if sum(1 for count in query.alias_refcount.values() if count) != 1:
            raise ImproperlyConfigured(
                f"{type(self.action).__name__}.may_change() must use the card's own columns."
            )
        quote = connection.ops.quote_name
        table = quote(Card._meta.db_table)
        where = f"WHERE {table}.{quote('id')} = ANY(%s) AND {guard}"
        if self.changes is None:
            return f"DELETE FROM {table} {where}", [], list(guard_params)
        assignments, values = [], []
        for name, value in self.changes.items():
            field = Card._meta.get_field(name)
            if hasattr(value, "resolve_expression"):  # e.g. unblock's CASE on the row itself
                expression = value.resolve_expression(query, allow_joins=False, for_save=True)
                value_sql, value_params = compiler.compile(expression)
                assignments.append(f"{quote(field.column)} = {value_sql}")
                values.extend(value_params)
                continue
            if isinstance(value, models.Model):
                value = value.pk
            assignments.append(f"{quote(field.column)} = %s")
            values.append(field.get_db_prep_save(value, connection))
        sql = f"UPDATE {table} SET {', '.join(assignments)} {where} RETURNING {table}.id"
        return sql, values, list(guard_params)


# SQLSTATEs worth another try: deadlock, serialisation failure, lock wait timed out.
RETRYABLE = {"40P01": "deadlock", "40001": "serialization failure", "55P03": "lock timeout"}


def retryable(exc: BaseException) -> str | None:
    """The name of a transient database failure, or None when retrying cannot help."""
    return RETRYABLE.get(getattr(exc.__cause__, "pgcode", None) or "")


def with_retries(work):
    """Run `work()` (one whole transaction) again after a transient failure, a few times.

    After the last try: BulkBusy with a message for the user; the detail goes to the log.
    """
    attempts = settings.TOPUP_BULK_RETRIES
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DatabaseError as exc:
            reason = retryable(exc)
            if reason is None:
                raise
            logger.warning("Bulk action: %s (try %d of %d): %s", reason, attempt, attempts, exc)
            if attempt == attempts:
                raise BulkBusy(
                    "Other changes to these cards kept colliding with this action; nothing was "
                    "changed. Try again in a moment."
                ) from exc
            time.sleep(random.uniform(0.05, 0.2) * attempt)


def cards_export_rows(*, user, cards, selection: dict, **details):
    """Rows (serial, amount, currency, expiry, PIN) for the card printer.

    Checked (right, scope, four eyes) and audited when called, before any row is produced;
    the audit event records exactly which cards were exported, for each card's history, and
    `details` (the print shop an encrypted export is for). An export of no card is not
    recorded (there is nothing in it). Returns an iterator of rows.
    """
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    cards = cards_in_scope(user=user, cards=cards).order_by("number")
    four_eyes_check(user=user, cards=cards, action="export the PINs of")
    with transaction.atomic():
        ids = cards.order_by().values_list("pk", flat=True).iterator(chunk_size=20_000)
        runs, count = card_runs(ids)
        if count:
            audit_cards(
                "cards.exported", actor=user, selection=selection, count=count, runs=runs, **details
            )
    return _export_rows(cards)


def _export_rows(cards):
    for number, amount, currency, expires_at, pin in cards_with_pins(
        cards, "amount", "currency", "expires_at"
    ):
        yield number, amount, currency, expires_at.isoformat() if expires_at else "", pin


@sensitive_variables("pin")
def cards_with_pins(cards, *fields: str):
    """(number, *fields, PIN) of each card, in the queryset's order: the one decrypting loop.

    Reads in chunks through a server-side cursor, so memory stays flat for any count.
    """
    columns = ["number", *fields, "pin_encrypted", "pin_key_version"]
    for number, *values, token, version in cards.values_list(*columns).iterator(chunk_size=5000):
        pin = pin_service.decrypt(token, version, number)
        yield number, *values, pin
