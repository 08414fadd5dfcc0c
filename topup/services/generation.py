"""Generating series of cards: validation, the guessing guard, numbering, background fill."""

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext
from django_tasks import task

from billing.currencies import is_iso_currency
from config.db_faults import outage, rerun_after_outages
from locales.formats import number
from resellers.models import AuditEvent, Reseller, audit
from resellers.scoping import RESELLER_OUT_OF_SCOPE, reseller_ids_visible_to

from .. import generation
from ..fields import DATE_BOUNDS_MESSAGE, in_date_bounds
from ..models import (
    LANGUAGE_MESSAGE,
    LIVE,
    CardSummary,
    Series,
    default_language,
    is_printed_language,
)
from ..pins import InvalidPin, pin_service
from .jobs import INTERNAL_ERROR, JobFailed, jobs_reap
from .labels import check_label_and_notes
from .notify import series_generated

logger = logging.getLogger(__name__)

GENERATION_LOCK = 7_460_001  # pg_advisory_xact_lock key serialising generation


def _generation_lock() -> None:
    """Serialise generations: numbering and the PIN collision check assume one at a time."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GENERATION_LOCK])


def _next_number(code: str) -> int:
    """Numbers continue after every earlier series of the code, deleted cards included."""
    return next_numbers([code]).get(code, 1)


def next_numbers(codes) -> dict[str, int]:
    """The first number the next series of each code (that has one) would take: a read, for
    the Generate page's preview; generation itself asks again under its lock."""
    rows = (
        Series.objects.filter(code__in=list(codes))
        .exclude(state=Series.State.FAILED)
        .order_by()
        .values("code")
        .annotate(end=Max(F("first_number") + F("quantity")))
        .values_list("code", "end")
    )
    return dict(rows)


def live_cards_by_length() -> dict[int, int]:
    """Live cards by PIN length, from the card summary: no card is read.

    Live: new or in stock (a series in stock is sold later), not expired.
    """
    rows = (
        CardSummary.objects.filter(LIVE)
        .order_by()
        .values("series__pin_length")
        .annotate(n=Sum("cards"))
        .values_list("series__pin_length", "n")
    )
    return {length: n for length, n in rows if n}


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
    message = gettext(
        "With %(digits)s-digit PINs, one guess in %(odds)s would hit a live card (the limit is "
        "1 in %(limit)s)."
    ) % {
        "digits": pin_length,
        "odds": number(math.floor(1 / would_be)),
        "limit": number(round(1 / ratio)),
    }
    if safe is None:
        advice = gettext("No PIN length is safe for this quantity.")
    else:
        advice = gettext("Use a PIN length of at least %(digits)s digits.") % {"digits": safe}
    raise ValidationError({"pin_length": f"{message} {advice}"})  # two whole sentences


@dataclass(frozen=True)
class SeriesRequest:
    reseller: Reseller
    amount: Decimal
    quantity: int
    code: str
    pin_length: int = pin_service.default_length
    expires_at: datetime | None = None
    currency: str = ""
    # Printed cards wait in stock until released by serial range; e-PINs are released now.
    in_stock: bool = True
    valid_from: datetime | None = None
    label: str = ""
    notes: str = ""
    language: str = ""  # printed on the cards; "" is the site's (default_language)


def validate_series_request(*, user, request: SeriesRequest) -> SeriesRequest:
    errors = {}
    amount = request.amount
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        errors["amount"] = gettext("The amount must be greater than zero.")
    elif amount.as_tuple().exponent < -2:
        errors["amount"] = gettext("The amount has at most 2 decimals.")
    elif amount >= Decimal("1e12"):
        errors["amount"] = gettext("The amount is too large.")
    if not 1 <= request.quantity <= 1_000_000:
        errors["quantity"] = gettext("The quantity must be from %(least)s to %(most)s.") % {
            "least": number(1),
            "most": number(1_000_000),
        }
    if not (request.code.isascii() and request.code.isalnum() and len(request.code) <= 20):
        errors["code"] = gettext("The series code is 1 to 20 letters and digits.")
    if request.language and not is_printed_language(request.language):
        errors["language"] = LANGUAGE_MESSAGE
    if len(pin_service.digest_keys) > 1:
        # A new PIN is checked for uniqueness by its current digest only; during a rotation
        # an unmoved card's PIN would go unseen.
        errors["__all__"] = gettext(
            "The PIN keys are being rotated: generate once rotate_pin_keys has finished and "
            "PIN_HMAC_KEY_PREVIOUS is removed."
        )
    try:
        pin_service.check_length(request.pin_length)
    except InvalidPin as exc:
        errors["pin_length"] = str(exc)
    try:
        check_label_and_notes(label=request.label, notes=request.notes)
    except ValidationError as exc:
        errors.update({field: messages[0] for field, messages in exc.message_dict.items()})
    if request.reseller.pk not in reseller_ids_visible_to(user):
        errors["reseller"] = RESELLER_OUT_OF_SCOPE
    elif not Reseller.objects.active().filter(pk=request.reseller.pk).exists():
        errors["reseller"] = gettext("This company is inactive: it gets no new series.")
    if request.expires_at is not None and request.expires_at <= timezone.now():
        errors["expires_at"] = gettext(
            "The expiry date must be in the future (or empty: no expiry)."
        )
    elif (
        request.expires_at is not None
        and request.valid_from is not None
        and request.valid_from >= request.expires_at
    ):
        errors["valid_from"] = gettext("The cards must become valid before they expire.")
    for name in ("expires_at", "valid_from"):  # the forms' own bounds, for every caller
        when = getattr(request, name)
        if when is not None and not in_date_bounds(when):
            errors[name] = DATE_BOUNDS_MESSAGE
    currency = request.currency or request.reseller.currency
    if not is_iso_currency(currency):
        errors["currency"] = gettext("Enter a known ISO 4217 currency code.")
    if errors:
        raise ValidationError(errors)
    return SeriesRequest(
        **{
            **request.__dict__,
            "currency": currency,
            "label": request.label.strip(),
            "notes": request.notes.strip(),
            "language": request.language or default_language(),
        }
    )


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
            label=request.label,
            notes=request.notes,
            amount=request.amount,
            currency=request.currency,
            quantity=request.quantity,
            first_number=_next_number(request.code),
            pin_length=request.pin_length,
            reseller=request.reseller,
            expires_at=request.expires_at,
            valid_from=request.valid_from,
            in_stock=request.in_stock,
            language=request.language or default_language(),
            state=Series.State.PENDING if background else Series.State.RUNNING,
            runs=0 if background else 1,  # at once: this request is its one run
            created_by=user,
        )
        if background:
            transaction.on_commit(lambda: fill_series.enqueue(series.pk))
            return series
        _fill(series, progress)
    return series


def _fill(series: Series, progress=None) -> None:
    redrawn = generation.write_cards(series, progress)
    # Only a series still marked running is finished: one the reaper gave up on (its heartbeat
    # stopped) stays failed, and its cards roll back with this transaction.
    if not Series.objects.filter(pk=series.pk, state=Series.State.RUNNING).update(
        state=Series.State.DONE, progress=series.quantity, error="", finished_at=timezone.now()
    ):
        raise generation.GenerationError(f"Series {series.pk} is no longer running.")
    series.state, series.progress = Series.State.DONE, series.quantity
    audit(
        AuditEvent.Action.SERIES_GENERATED,
        actor=series.created_by,
        series=series.pk,
        code=series.code,
        label=series.label,
        quantity=series.quantity,
        amount=str(series.amount),
        currency=series.currency,
        reseller=series.reseller_id,
        first_number=series.first_number,
        pin_length=series.pin_length,
        in_stock=series.in_stock,
        valid_from=series.valid_from.isoformat() if series.valid_from else None,
        redrawn=redrawn,
    )
    series_generated(series)


def _progress_reporter(series: Series):
    """Write progress on a second connection, visible while the cards are uncommitted."""

    def report(done: int) -> None:
        with connections["progress"].cursor() as cursor:
            cursor.execute(
                f"UPDATE {Series._meta.db_table} SET progress = %s, heartbeat_at = now()"
                " WHERE id = %s",
                [done, series.pk],
            )

    return report


def series_fill(*, series_id: int) -> Series:
    """Write the cards of a series reserved by `series_generate`, all or nothing.

    Claims the series (pending -> running, with a heartbeat the progress reports renew); a
    series another worker claimed is returned untouched. On failure no card is left and the
    series says why (state failed): a readable reason; technical details go to the log only.
    """
    jobs_reap()
    claimed = Series.objects.filter(pk=series_id, state=Series.State.PENDING).update(
        state=Series.State.RUNNING, runs=F("runs") + 1, heartbeat_at=timezone.now()
    )
    series = Series.objects.select_related("created_by").get(pk=series_id)
    if not claimed:
        return series
    try:
        with transaction.atomic():
            _generation_lock()
            check_guessing_guard(quantity=series.quantity, pin_length=series.pin_length)
            _fill(series, _progress_reporter(series))
    except Exception as exc:
        if outage(exc):
            raise  # nothing was written; fill_series runs it again (rerun_after_outages)
        if isinstance(exc, ValidationError):
            message = " ".join(exc.messages)
        else:
            logger.exception("Series %s: generation failed", series.pk)
            message = INTERNAL_ERROR
        with transaction.atomic():
            Series.objects.filter(pk=series.pk, state=Series.State.RUNNING).update(
                state=Series.State.FAILED,
                progress=0,
                error=message[:2000],
                finished_at=timezone.now(),
            )
            audit(
                AuditEvent.Action.SERIES_FAILED,
                actor=series.created_by,
                series=series.pk,
                error=message,
            )
        series.refresh_from_db()
    return series


@task()
def fill_series(series_id: int) -> int:
    """The worker's half of `series_generate` for large series; fails when the series failed.

    The task lives beside the service it runs, so that the services enqueue it without
    importing a module that imports them.
    """
    series = rerun_after_outages(  # all or nothing: after an outage, again from the start
        lambda: series_fill(series_id=series_id),
        hand_back=lambda: Series.objects.filter(pk=series_id, state=Series.State.RUNNING).update(
            state=Series.State.PENDING, progress=0
        ),
        what=f"Series {series_id}",
    )
    if series.state == Series.State.FAILED:
        raise JobFailed(f"Series {series.pk} failed: {series.error}")
    return series.progress
