"""A statement as a file: CSV (one line at a time) and PDF (WeasyPrint, as card sheets are).

The CSV is for machines and spreadsheets: ISO dates, plain decimals, translated headers; free
text is kept from running as a formula. The PDF is for people: the statement page's figures in
the reader's locale (`locales.formats`), fonts from the system, no fetch but `data:` URLs.
"""

import csv
from collections.abc import Iterator

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from .statements import Statement


class _Echo:
    def write(self, value):
        return value


def _text(value: str) -> str:
    """Free text for a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def statement_csv_lines(statement: Statement) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        [_("Date"), _("Kind"), _("Note"), _("Reference"), _("Amount"), _("Balance after"),
         _("Currency")]
    )  # fmt: skip
    currency = statement.currency
    yield writer.writerow(
        [statement.start.isoformat(), _("Opening balance"), "", "", "", statement.opening,
         currency]
    )  # fmt: skip
    for entry in statement.iter_rows():
        yield writer.writerow(
            [
                timezone.localtime(entry.created_at).isoformat(timespec="seconds"),
                entry.get_kind_display(),
                _text(entry.note or ""),
                _text(entry.reference or ""),
                entry.amount,
                entry.balance_after,
                currency,
            ]
        )
    yield writer.writerow(
        [statement.end.isoformat(), _("Closing balance"), "", "", "", statement.closing, currency]
    )


def statement_filename(statement: Statement, extension: str) -> str:
    return f"statement-{statement.wallet.reseller_id}-{statement.start:%Y%m%d}-{statement.end:%Y%m%d}.{extension}"


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF, in the active language and time zone."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    html = render_to_string(
        "wallets/statement_pdf.html",
        {"statement": statement, "rows": statement.iter_rows(), "printed_at": timezone.now()},
    )
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=FontConfiguration())
