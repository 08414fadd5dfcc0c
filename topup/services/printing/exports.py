"""Exports: the plaintext CSV, and the print shop's file encrypted to its OpenPGP key.

The print shop's file is the export CSV piped through gpg to the shop's public key: the
plaintext exists only in memory, a chunk at a time.
"""

import csv
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from ...models import PrintShop
from ...openpgp import OpenPGPError, openpgp
from ..bulk.reveal import cards_export_rows

EXPORT_HEADER = ["serial", "amount", "currency", "expiry", "pin"]


@sensitive_variables("row")
def csv_lines(rows: Iterable[tuple], header: list[str] | None = None) -> Iterator[str]:
    """CSV a line at a time (never the whole file in memory); a row may hold a PIN."""
    writer = csv.writer(_Echo())
    if header:
        yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def csv_text(value: str) -> str:
    """Free text for a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


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
            _(
                "Plaintext exports are switched off on this server: export the cards encrypted "
                "for a print shop instead."
            ),
            code="plaintext_off",
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
        raise ValidationError(
            {"shop": gettext("%(shop)s: %(problem)s") % {"shop": shop.name, "problem": exc}}
        ) from exc
    if key.fingerprint != shop.fingerprint:
        raise ValidationError(
            {
                "shop": gettext("%(shop)s: the stored key does not match its fingerprint.")
                % {"shop": shop.name}
            }
        )
    rows = cards_export_rows(
        user=user,
        cards=cards,
        selection=selection,
        encrypted_for={"shop": shop.pk, "name": shop.name, "fingerprint": shop.fingerprint},
    )
    lines = (line.encode() for line in export_csv_lines(rows))
    return openpgp.encrypt(lines, public_key=shop.public_key, fingerprint=shop.fingerprint)
