"""Cards on paper: PDF card sheets, and the card file encrypted for the print shop.

- Sheets are HTML templates (`templates/topup/print/`) rendered to PDF by WeasyPrint, with QR
  codes drawn by segno as small PNGs; fonts come from the system (Debian's fonts-dejavu-core)
  and the renderer may fetch nothing but `data:` URLs. Small sheets are rendered in the
  request; large ones by the task worker, in chunks with progress, kept only sealed in the
  database until they are downloaded once or expire (docs/printing.md says why).
- The print shop's file is the export CSV piped through gpg to the shop's public key: the
  plaintext exists only in memory, a chunk at a time.
"""

import csv
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from itertools import islice

import segno
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from config.db_faults import outage

from ..models import AuditEvent, Card, PrintShop, SheetJob, audit, audit_cards, card_runs
from ..openpgp import OpenPGPError, openpgp
from ..pins import pin_service
from .bulk import cards_export_rows, cards_in_scope, cards_with_pins
from .four_eyes import four_eyes_check

DEFAULT_INSTRUCTION = "Enter your PIN on the Payment Gateways page"
PAPERS = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
THERMAL_WIDTH = 80.0


# --- Layout --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SheetLayout:
    """How cards are laid out on paper. Lengths are millimetres.

    `a4` and `letter` place `columns` x `rows` cards per page with dashed cut lines; `thermal`
    prints one card per slip of an 80 mm receipt roll. `qr` is none, pin (the PIN alone) or
    link (`link` with the PIN in the fragment, which browsers never send to a server).
    """

    paper: str = "a4"
    columns: int = 3
    rows: int = 8
    qr: str = "none"
    instruction: str = DEFAULT_INSTRUCTION
    link: str = ""

    margin = 8.0
    padding = 2.5
    min_cell_width = 45.0
    min_cell_width_qr = 60.0
    min_cell_height = 31.0
    max_columns = 4
    max_rows = 12

    @property
    def thermal(self) -> bool:
        return self.paper == "thermal"

    @property
    def per_page(self) -> int:
        return 1 if self.thermal else self.columns * self.rows

    @property
    def page_width(self) -> float:
        return THERMAL_WIDTH if self.thermal else PAPERS[self.paper][0]

    @property
    def page_height(self) -> float:
        if self.thermal:
            return 92.0 if self.qr != "none" else 60.0
        return PAPERS[self.paper][1]

    @property
    def cell_width(self) -> float:
        return math.floor(100 * (self.page_width - 2 * self.margin) / self.columns) / 100

    @property
    def cell_height(self) -> float:
        return math.floor(100 * (self.page_height - 2 * self.margin) / self.rows) / 100

    @property
    def qr_size(self) -> float:
        if self.thermal:
            return 34.0
        return min(22.0, round(self.cell_height - 2 * self.padding, 2))

    @property
    def grid_height(self) -> float:
        return round(self.cell_height * self.rows, 2)

    def position(self, index: int) -> tuple[float, float]:
        """(left, top) of the index-th card of a page, row by row."""
        row, column = divmod(index, self.columns)
        return round(column * self.cell_width, 2), round(row * self.cell_height, 2)

    @property
    def qr_gap(self) -> float:
        """Room the card's text leaves for its QR code, at the right."""
        return self.qr_size + 1.5

    @property
    def font_size(self) -> float:
        """Points: 7 on the default A4 grid, larger on larger cards."""
        return round(max(6.5, min(10.0, self.cell_height / 5, self.cell_width / 9)), 1)

    def validate(self) -> "SheetLayout":
        """Raises ValidationError, by field, for a layout that would not print legibly."""
        errors = {}
        if self.paper not in (*PAPERS, "thermal"):
            errors["paper"] = "Choose A4, US Letter or the 80 mm thermal roll."
        if self.qr not in ("none", "pin", "link"):
            errors["qr"] = "Choose no QR code, the PIN, or a link to the Payment Gateways page."
        if self.qr == "link" and not self.link.startswith(("https://", "http://")):
            errors["qr"] = "The Payment Gateways page's address is unknown; choose another QR."
        if not 1 <= len(self.instruction.strip()) <= 120:
            errors["instruction"] = "Write an instruction line of 1 to 120 characters."
        if errors or self.thermal:
            if errors:
                raise ValidationError(errors)
            return self
        if not 1 <= self.columns <= self.max_columns:
            errors["columns"] = f"Choose 1 to {self.max_columns} columns."
        if not 1 <= self.rows <= self.max_rows:
            errors["rows"] = f"Choose 1 to {self.max_rows} rows."
        if not errors:
            min_width = self.min_cell_width_qr if self.qr != "none" else self.min_cell_width
            if self.cell_width < min_width:
                most = int((self.page_width - 2 * self.margin) // min_width)
                errors["columns"] = (
                    f"The cards would be too narrow to read: this paper takes at most {most}"
                    f" column(s){' with a QR code' if self.qr != 'none' else ''}."
                )
            if self.cell_height < self.min_cell_height:
                most = int((self.page_height - 2 * self.margin) // self.min_cell_height)
                errors["rows"] = (
                    f"The cards would be too short to read: this paper takes at most {most} rows."
                )
        if errors:
            raise ValidationError(errors)
        return self

    def describe(self) -> dict:
        return asdict(self)


def _batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def group_pin(pin: str) -> list[str]:
    """The PIN in groups for reading aloud: fours where they fit, else the most even split."""
    n = len(pin)
    size = min((4, 5, 3), key=lambda g: (n % g != 0, -n % g))
    return [pin[i : i + size] for i in range(0, n, size)]


# --- Rendering ---------------------------------------------------------------------------
CHUNK_PAGES = 10  # pages rendered per step of a large sheet (progress is reported per step)
SHEET_FIELDS = ("amount", "currency", "expires_at", "reseller__name")


def render_sheet(rows: Iterable[tuple], layout: SheetLayout, *, progress=None) -> bytes:
    """The PDF of `rows` ((number, amount, currency, expires_at, company, PIN) per card).

    Rendered CHUNK_PAGES pages at a time: each step's layout is written to PDF and dropped, and
    pypdf joins the steps' PDFs, all in memory. (Keeping every page's layout for one final
    write, WeasyPrint's own way to join documents, took 1.3 GB for 10,000 cards.)
    `progress(cards_done)` is called after each step.
    """
    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    template = "topup/print/thermal.html" if layout.thermal else "topup/print/sheet.html"
    fonts = FontConfiguration()
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    parts, done = [], 0
    for chunk in _batched(rows, layout.per_page * CHUNK_PAGES):
        pages = [
            [_printed_card(row, layout, index) for index, row in enumerate(page)]
            for page in _batched(chunk, layout.per_page)
        ]
        html = render_to_string(template, {"layout": layout, "pages": pages})
        parts.append(HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=fonts))
        done += len(chunk)
        if progress is not None:
            progress(done)
    if not parts:
        raise ValidationError("There are no cards to print.")
    if len(parts) == 1:
        return parts[0]
    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    del parts
    joined = io.BytesIO()
    writer.write(joined)
    return joined.getvalue()


def _printed_card(row: tuple, layout: SheetLayout, index: int) -> dict:
    number, amount, currency, expires_at, company, pin = row
    qr = None
    if layout.qr != "none":
        content = pin if layout.qr == "pin" else f"{layout.link}#pin={pin}"
        qr = segno.make(content, error="m", micro=False).png_data_uri(scale=4, border=2)
    left, top = (0, 0) if layout.thermal else layout.position(index)
    return {
        "left": left,
        "top": top,
        "number": number,
        "amount": amount,
        "currency": currency,
        "expires_at": expires_at,
        "company": company,
        "pin_groups": group_pin(pin),
        "qr": qr,
    }


# --- Printing: the service ---------------------------------------------------------------
@dataclass(frozen=True)
class PrintResult:
    """Either the PDF itself (a small sheet) or the job the worker renders (a large one)."""

    pdf: bytes | None = None
    job: SheetJob | None = None
    count: int = 0
    pages: int = 0


def cards_print(
    *, user, cards, selection: dict, layout: SheetLayout, background: bool | None = None
) -> PrintResult:
    """A PDF sheet of the cards (a queryset) in the user's scope, ordered by serial number.

    Needs the export right and obeys four eyes. Sheets above PRINT_SHEET_BACKGROUND_THRESHOLD
    cards (or with `background=True`) become a SheetJob for the task worker; at most
    PRINT_SHEET_MAX_CARDS cards per sheet (larger print runs go to the print shop as an
    encrypted export). Audited like an export (each card's history shows it), before any PIN
    is decrypted. Raises ValidationError for a bad layout, a selection or four eyes,
    PermissionDenied without the right.
    """
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    layout = layout.validate()
    cards = cards_in_scope(user=user, cards=cards).order_by("number")
    ids = list(cards.values_list("pk", flat=True)[: settings.PRINT_SHEET_MAX_CARDS + 1])
    if not ids:
        raise ValidationError("There are no cards to print in this selection.")
    if len(ids) > settings.PRINT_SHEET_MAX_CARDS:
        raise ValidationError(
            f"A sheet holds at most {settings.PRINT_SHEET_MAX_CARDS:,} cards. Narrow the "
            "selection (a serial range), or send the cards to the print shop as an encrypted "
            "export."
        )
    four_eyes_check(user=user, cards=cards, action="print the PINs of")
    count = len(ids)
    pages = math.ceil(count / layout.per_page)
    if background is None:
        background = count > settings.PRINT_SHEET_BACKGROUND_THRESHOLD
    with transaction.atomic():
        job = None
        if background:
            _purge_expired_sheets()
            job = SheetJob.objects.create(
                created_by=user,
                card_ids=ids,
                layout=layout.describe(),
                total=count,
                heartbeat_at=timezone.now(),
            )
            from ..tasks import render_sheet_job

            transaction.on_commit(lambda: render_sheet_job.enqueue(job.pk))
        audit_cards(
            AuditEvent.CARDS_PRINTED,
            actor=user,
            runs=card_runs(ids)[0],
            selection=selection,
            count=count,
            pages=pages,
            layout={k: v for k, v in layout.describe().items() if k != "link"},
            job=job.pk if job else None,
        )
    if job is not None:
        return PrintResult(job=job, count=count, pages=pages)
    rows = cards_with_pins(Card.objects.filter(pk__in=ids).order_by("number"), *SHEET_FIELDS)
    return PrintResult(pdf=render_sheet(rows, layout), count=count, pages=pages)


def sheet_job_run(*, job_id: int) -> SheetJob:
    """Render a SheetJob (the task worker's half of `cards_print`).

    Progress is saved after every few pages. The cards are those chosen when the job was
    made, narrowed again to its owner's scope now. The PDF is kept sealed under the PIN key
    until it is downloaded or PRINT_SHEET_TTL seconds pass.
    """
    job = SheetJob.objects.select_related("created_by").get(pk=job_id)
    if job.state != SheetJob.State.PENDING:
        return job
    claimed = SheetJob.objects.filter(pk=job.pk, state=SheetJob.State.PENDING).update(
        state=SheetJob.State.RUNNING, heartbeat_at=timezone.now()
    )
    if not claimed:
        return job  # another run took it
    try:
        layout = SheetLayout(**job.layout).validate()
        cards = cards_in_scope(user=job.created_by, cards=Card.objects.filter(pk__in=job.card_ids))
        rows = cards_with_pins(cards.order_by("number"), *SHEET_FIELDS)

        def progress(done: int) -> None:
            SheetJob.objects.filter(pk=job.pk).update(progress=done, heartbeat_at=timezone.now())

        pdf = render_sheet(rows, layout, progress=progress)
        version, sealed = pin_service.seal(pdf, _sheet_context(job))
        del pdf
        pages = math.ceil(job.total / layout.per_page)
        expires_at = timezone.now() + timedelta(seconds=settings.PRINT_SHEET_TTL)
        SheetJob.objects.filter(pk=job.pk).update(
            state=SheetJob.State.DONE,
            result=sealed,
            result_key_version=version,
            pages=pages,
            expires_at=expires_at,
        )
        _schedule_purge(job.pk, expires_at)
    except Exception as exc:
        if outage(exc):
            raise  # nothing was stored; sheet_job_run_through_outages renders it again
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        SheetJob.objects.filter(pk=job.pk).update(state=SheetJob.State.FAILED, error=message)
        if not isinstance(exc, ValidationError):
            raise
    job.refresh_from_db()
    return job


def sheet_job_download(*, user, job: SheetJob) -> Iterator[bytes]:
    """The finished PDF of the user's own job, in chunks; the sealed copy is wiped once the
    last chunk has been sent. Raises ValidationError when it is not (or no longer) there."""
    if not user.has_perm("topup.reveal_pin") or job.created_by_id != user.pk:
        raise PermissionDenied
    _purge_expired_sheets()
    job.refresh_from_db()
    if job.state != SheetJob.State.DONE or job.result is None:
        raise ValidationError(
            "This sheet is not ready, or was already downloaded or expired: print it again."
        )
    pdf = pin_service.unseal(job.result, job.result_key_version, _sheet_context(job))
    with transaction.atomic():
        audit(AuditEvent.SHEET_DOWNLOADED, actor=user, job=job.pk, count=job.total)
    return _stream_once(job.pk, pdf)


def _stream_once(job_id: int, pdf: bytes, chunk: int = 256 * 1024) -> Iterator[bytes]:
    view = memoryview(pdf)
    for start in range(0, len(view), chunk):
        yield bytes(view[start : start + chunk])
    _wipe(SheetJob.objects.filter(pk=job_id))


def _sheet_context(job: SheetJob) -> str:
    return f"topup.sheet:{job.pk}"


def _wipe(jobs) -> int:
    return jobs.filter(state=SheetJob.State.DONE).update(
        state=SheetJob.State.GONE, result=None, result_key_version=None
    )


def _purge_expired_sheets() -> int:
    return _wipe(SheetJob.objects.filter(expires_at__lte=timezone.now()))


def sheet_purge(*, job_id: int) -> int:
    """Wipe a finished sheet whose time is up (the worker runs this when it expires)."""
    return _wipe(SheetJob.objects.filter(pk=job_id, expires_at__lte=timezone.now()))


SHEET_WORKER_DIED = "The worker stopped while rendering this sheet. Print the cards again."


def sheet_jobs_reap(*, stale) -> dict[str, int]:
    """Sheets whose worker died (no heartbeat since `stale`) fail with a message; sheets
    queued that long ago and never started are queued once more. Part of `jobs_reap`."""
    from ..tasks import render_sheet_job

    dead = SheetJob.objects.filter(state=SheetJob.State.RUNNING, heartbeat_at__lt=stale)
    failed = dead.update(state=SheetJob.State.FAILED, error=SHEET_WORKER_DIED)
    waiting = SheetJob.objects.filter(state=SheetJob.State.PENDING, heartbeat_at__lt=stale)
    requeued = 0
    for pk in waiting.values_list("pk", flat=True):
        with transaction.atomic():
            if waiting.filter(pk=pk).update(heartbeat_at=timezone.now()):
                transaction.on_commit(lambda pk=pk: render_sheet_job.enqueue(pk))
                requeued += 1
    return {"sheets_failed": failed, "sheets_requeued": requeued}


def _schedule_purge(job_id: int, when) -> None:
    from ..tasks import purge_sheet_job

    if purge_sheet_job.get_backend().supports_defer:
        purge_sheet_job.using(run_after=when).enqueue(job_id)


# --- Exports: plaintext CSV and the print shop's encrypted file --------------------------
EXPORT_HEADER = ["serial", "amount", "currency", "expiry", "pin"]


@sensitive_variables("row")
def csv_lines(rows: Iterable[tuple], header: list[str] | None = None) -> Iterator[str]:
    """CSV a line at a time (never the whole file in memory); a row may hold a PIN."""
    writer = csv.writer(_Echo())
    if header:
        yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def export_csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    """The card export's CSV: serial, amount, currency, expiry, PIN."""
    return csv_lines(rows, EXPORT_HEADER)


class _Echo:
    """A file whose write() hands the line back: csv.writer then returns each line."""

    def write(self, value):
        return value


def cards_export_csv(*, user, cards, selection: dict) -> Iterator[str]:
    """The plaintext CSV export, unless EXPORT_PLAINTEXT_ALLOWED is off (then ValidationError:
    only the encrypted export to a registered print shop is possible)."""
    if not settings.EXPORT_PLAINTEXT_ALLOWED:
        raise ValidationError(
            "Plaintext exports are switched off on this server: export the cards encrypted "
            "for a print shop instead."
        )
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    return export_csv_lines(cards_export_rows(user=user, cards=cards, selection=selection))


def cards_export_encrypted(*, user, cards, selection: dict, shop: PrintShop) -> Iterator[bytes]:
    """The export CSV encrypted to the print shop's OpenPGP key (binary, for `.csv.gpg`).

    The audit row names the shop and the key's fingerprint. The CSV is produced a chunk at a
    time and piped into gpg; it is never written to a file.
    """
    if not user.has_perm("topup.reveal_pin"):
        raise PermissionDenied
    try:
        key = openpgp.inspect(shop.public_key)
    except OpenPGPError as exc:
        raise ValidationError({"shop": f"{shop.name}: {exc}"}) from exc
    if key.fingerprint != shop.fingerprint:
        raise ValidationError(
            {"shop": f"{shop.name}: the stored key does not match its fingerprint."}
        )
    rows = cards_export_rows(
        user=user,
        cards=cards,
        selection=selection,
        encrypted_for={"shop": shop.pk, "name": shop.name, "fingerprint": shop.fingerprint},
    )
    lines = (line.encode() for line in export_csv_lines(rows))
    return openpgp.encrypt(lines, public_key=shop.public_key, fingerprint=shop.fingerprint)


# --- Print shops ---------------------------------------------------------------------------
def print_shop_add(*, user, name: str, public_key: str) -> PrintShop:
    """Register a print shop; its key must be one OpenPGP public key able to encrypt."""
    if not user.has_perm("topup.add_printshop"):
        raise PermissionDenied
    name = name.strip()
    errors = {}
    if not 1 <= len(name) <= 100:
        errors["name"] = "Enter the print shop's name (at most 100 characters)."
    elif PrintShop.objects.filter(name__iexact=name).exists():
        errors["name"] = "A print shop of this name is registered already."
    try:
        key = openpgp.inspect(public_key.strip())
    except OpenPGPError as exc:
        errors["public_key"] = str(exc)
    else:
        if PrintShop.objects.filter(fingerprint=key.fingerprint).exists():
            errors["public_key"] = "This key is registered already, for another print shop."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        shop = PrintShop.objects.create(
            name=name,
            public_key=key.armored,
            fingerprint=key.fingerprint,
            key_uid=key.uid[:255],
            key_expires_at=key.expires_at,
            created_by=user,
        )
        audit(
            AuditEvent.PRINT_SHOP_ADDED,
            actor=user,
            shop=shop.pk,
            name=shop.name,
            fingerprint=shop.fingerprint,
        )
    return shop


def print_shop_delete(*, user, shop: PrintShop) -> None:
    if not user.has_perm("topup.delete_printshop"):
        raise PermissionDenied
    with transaction.atomic():
        audit(
            AuditEvent.PRINT_SHOP_DELETED,
            actor=user,
            shop=shop.pk,
            name=shop.name,
            fingerprint=shop.fingerprint,
        )
        shop.delete()
