"""A statement as a file: CSV (one line at a time) and PDF (WeasyPrint, as card sheets are).

The CSV is for machines and spreadsheets: ISO dates, plain decimals, translated headers; free
text is kept from running as a formula. The PDF is for people: the statement page's figures in
the reader's locale (`locales.formats`), fonts from the system, no fetch but `data:` URLs.
"""

import csv
from collections.abc import Iterator

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import WalletEntry
from .statements import Statement


class _Echo:
    def write(self, value):
        return value


def _text(value: str) -> str:
    """Free text for a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def statement_language(reseller, user):
    """The language a statement file is written in: the reseller's when the panel records one,
    else the reader's (the active language). Use as a context manager around the rendering."""
    language = getattr(reseller, "language", "") or getattr(user, "language", "")
    return translation.override(language or translation.get_language())


def statement_csv_lines(statement: Statement) -> Iterator[str]:
    """The CSV a line at a time. Its words are translated now (the caller's language), so the
    lines read the same when the response is streamed later, in another language."""
    header = [_("Date"), _("Kind"), _("Note"), _("Reference"), _("Amount"), _("Balance after"),
              _("Currency")]  # fmt: skip
    opening, closing = _("Opening balance"), _("Closing balance")
    kinds = {value: str(label) for value, label in WalletEntry.Kind.choices}
    zone = timezone.get_current_timezone()
    return _csv_lines(statement, header, opening, closing, kinds, zone)


def _csv_lines(statement, header, opening, closing, kinds, zone) -> Iterator[str]:
    writer = csv.writer(_Echo())
    currency = statement.currency
    yield writer.writerow(header)
    yield writer.writerow(
        [statement.start.isoformat(), opening, "", "", "", statement.opening, currency]
    )
    for entry in statement.iter_rows():
        yield writer.writerow(
            [
                timezone.localtime(entry.created_at, zone).isoformat(timespec="seconds"),
                kinds.get(entry.kind, entry.kind),
                _text(entry.note),
                _text(entry.reference),
                entry.amount,
                entry.balance_after,
                currency,
            ]
        )
    yield writer.writerow(
        [statement.end.isoformat(), closing, "", "", "", statement.closing, currency]
    )


def statement_filename(statement: Statement, extension: str) -> str:
    period = f"{statement.start:%Y%m%d}-{statement.end:%Y%m%d}"
    return f"statement-{statement.wallet.reseller_id}-{period}.{extension}"


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF, in the active language and time zone."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    html = render_to_string(
        "wallets/print/statement.html",
        {"statement": statement, "rows": statement.iter_rows(), "printed_at": timezone.now()},
    )
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=FontConfiguration())
