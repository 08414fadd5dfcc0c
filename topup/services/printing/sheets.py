"""Card sheets: the layout on paper, and its rendering to PDF.

Sheets are HTML templates (`templates/topup/print/`) rendered to PDF by WeasyPrint, with QR
codes drawn by segno as small PNGs; fonts come from the system (Debian's fonts-dejavu-core)
and the renderer may fetch nothing but `data:` URLs. Nothing here reads the database.
"""

import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice

import segno
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext

from ...models import LANGUAGE_MESSAGE, default_language, is_printed_language

# The standard line, printed in the card's language (the job's `language`); a line the
# operator typed is printed as typed.
DEFAULT_INSTRUCTION = gettext_noop("Enter your PIN on the Payment Gateways page")
PAPERS = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
THERMAL_WIDTH = 80.0
THERMAL_SIDE_MARGIN = 4.0  # templates/topup/print/thermal.html's @page margin
# A digit of DejaVu Sans Mono is 0.602 em wide; a point is 0.3528 mm.
MONO_EM, POINT_MM = 0.602, 0.3528


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
    # The language printed on the cards (the end customer reads them, not the operator).
    language: str = ""

    margin = 8.0
    padding = 2.5
    min_cell_width = 45.0
    min_cell_width_qr = 60.0
    min_cell_height = 31.0
    max_columns = 4
    max_rows = 12

    @property
    def printed_language(self) -> str:
        return self.language or default_language()

    @property
    def printed_instruction(self) -> str:
        """The instruction as printed, in the active (the card's) language: the standard
        line translated, a line the operator typed as typed."""
        if self.instruction == DEFAULT_INSTRUCTION:
            return gettext(DEFAULT_INSTRUCTION)
        return self.instruction

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
    def text_width(self) -> float:
        """Millimetres a line of a card's text has: the cell less its padding and QR code."""
        if self.thermal:
            return THERMAL_WIDTH - 2 * THERMAL_SIDE_MARGIN
        return self.cell_width - 2 * self.padding - (self.qr_gap if self.qr != "none" else 0)

    def pin_font_size(self, chars: int) -> float:
        """Points for a printed PIN of `chars` characters (its spaces included) on one line.

        The usual size where it fits, smaller where it would not: a printed PIN never breaks.
        """
        usual = 15.0 if self.thermal else 1.5 * self.font_size
        fits = 0.95 * self.text_width / (chars * MONO_EM * POINT_MM)
        return math.floor(10 * min(usual, fits)) / 10

    @property
    def font_size(self) -> float:
        """Points: 7 on the default A4 grid, larger on larger cards."""
        return round(max(6.5, min(10.0, self.cell_height / 5, self.cell_width / 9)), 1)

    def validate(self) -> "SheetLayout":
        """Raises ValidationError, by field, for a layout that would not print legibly."""
        errors = {}
        if self.paper not in (*PAPERS, "thermal"):
            errors["paper"] = gettext("Choose A4, US Letter or the 80 mm thermal roll.")
        if self.qr not in ("none", "pin", "link"):
            errors["qr"] = gettext(
                "Choose no QR code, the PIN, or a link to the Payment Gateways page."
            )
        if self.qr == "link" and not self.link.startswith(("https://", "http://")):
            errors["qr"] = gettext(
                "The Payment Gateways page's address is unknown; choose another QR."
            )
        if not 1 <= len(self.instruction.strip()) <= 120:
            errors["instruction"] = gettext("Write an instruction line of 1 to 120 characters.")
        if self.language and not is_printed_language(self.language):
            errors["language"] = LANGUAGE_MESSAGE
        if errors or self.thermal:
            if errors:
                raise ValidationError(errors)
            return self
        if not 1 <= self.columns <= self.max_columns:
            errors["columns"] = gettext("Choose 1 to %(most)s columns.") % {
                "most": self.max_columns
            }
        if not 1 <= self.rows <= self.max_rows:
            errors["rows"] = gettext("Choose 1 to %(most)s rows.") % {"most": self.max_rows}
        if not errors:
            min_width = self.min_cell_width_qr if self.qr != "none" else self.min_cell_width
            if self.cell_width < min_width:
                most = int((self.page_width - 2 * self.margin) // min_width)
                if self.qr != "none":
                    message = ngettext(
                        "The cards would be too narrow to read: this paper takes at most "
                        "%(most)s column with a QR code.",
                        "The cards would be too narrow to read: this paper takes at most "
                        "%(most)s columns with a QR code.",
                        most,
                    )
                else:
                    message = ngettext(
                        "The cards would be too narrow to read: this paper takes at most "
                        "%(most)s column.",
                        "The cards would be too narrow to read: this paper takes at most "
                        "%(most)s columns.",
                        most,
                    )
                errors["columns"] = message % {"most": most}
            if self.cell_height < self.min_cell_height:
                most = int((self.page_height - 2 * self.margin) // self.min_cell_height)
                errors["rows"] = ngettext(
                    "The cards would be too short to read: this paper takes at most %(most)s row.",
                    "The cards would be too short to read: this paper takes at most %(most)s rows.",
                    most,
                ) % {"most": most}
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


CHUNK_PAGES = 10  # pages rendered per step of a large sheet (progress is reported per step)


def render_sheet(rows: Iterable[tuple], layout: SheetLayout, *, progress=None) -> bytes:
    """The PDF of `rows` ((number, amount, currency, expires_at, company, PIN) per card).

    Rendered CHUNK_PAGES pages at a time: each step's layout is written to PDF and dropped, and
    pypdf joins the steps' PDFs, all in memory. (Keeping every page's layout for one final
    write, WeasyPrint's own way to join documents, took 1.3 GB for 10,000 cards.)
    `progress(cards_done)` is called after each step. The cards' text is in
    `layout.printed_language`.
    """
    template = "topup/print/thermal.html" if layout.thermal else "topup/print/sheet.html"
    with translation.override(layout.printed_language):
        return _render(rows, layout, template, progress)


def _render(rows, layout: SheetLayout, template: str, progress) -> bytes:
    """render_sheet's work, inside the cards' language."""
    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    fonts = FontConfiguration()
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    parts, done = [], 0
    for chunk in _batched(rows, layout.per_page * CHUNK_PAGES):
        pages = [
            [_printed_card(row, layout, index) for index, row in enumerate(page)]
            for page in _batched(chunk, layout.per_page)
        ]
        html = render_to_string(
            template, {"layout": layout, "pages": pages, "instruction": layout.printed_instruction}
        )
        parts.append(HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=fonts))
        done += len(chunk)
        if progress is not None:
            progress(done)
    if not parts:
        raise ValidationError(gettext_lazy("There are no cards to print."), code="empty")
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
    groups = group_pin(pin)
    return {
        "left": left,
        "top": top,
        "number": number,
        "amount": amount,
        "currency": currency,
        "expires_at": expires_at,
        "company": company,
        "pin_groups": groups,
        "pin_size": layout.pin_font_size(len(" ".join(groups))),
        "qr": qr,
    }
