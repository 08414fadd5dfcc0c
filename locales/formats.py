"""Locale formats for every figure a person reads: money, numbers, dates and times.

One home for the rule: pages (the `locale_formats` template filters), PDFs, charts and the
CSV files a person reads call these functions; machine-readable exports keep ISO dates and
plain decimals. The locale is the active Django language (`LocaleMiddleware`, the user's
choice), the time zone the active one (the user's zone, `timezone.activate`). Formats come from
babel's CLDR data: a currency's own digits (0 for JPY, 3 for KWD) and symbol placement.
"""

from datetime import date, datetime
from decimal import Decimal
from functools import cache

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.utils import timezone, translation


def current_locale() -> Locale:
    """The babel locale of the active Django language ("pt-br" -> pt_BR); English when the
    language has no CLDR data (a pseudo-locale in tests)."""
    return _locale(translation.get_language() or "en")


@cache
def _locale(language: str) -> Locale:
    """One babel Locale per language and process: a Locale loads its CLDR data on first use,
    so a new one for every figure of a page would load it again each time."""
    try:
        return Locale.parse(translation.to_locale(language))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


def money(value, currency: str) -> str:
    """1234.5, "USD" -> "$1,234.50" (en), "1.234,50 US$" (es), "1 234,50 $US" (fr)."""
    if value is None or value == "":
        return ""
    return babel_numbers.format_currency(Decimal(value), currency, locale=current_locale())


def number(value, decimals: int | None = None) -> str:
    """A count or a figure with the locale's grouping: 1234567 -> "1,234,567" / "1.234.567"."""
    if value is None or value == "":
        return ""
    if decimals is None:
        return babel_numbers.format_decimal(value, locale=current_locale())
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return babel_numbers.format_decimal(
        Decimal(value), format=pattern, locale=current_locale(), decimal_quantization=True
    )


def local_datetime(value: datetime | None, width: str = "medium") -> str:
    """An aware moment in the active (the user's) time zone, with the zone named:
    "Dec 6, 2026, 12:30:00 PM (America/Bogota)"."""
    if value is None:
        return ""
    zone = timezone.get_current_timezone()
    moment = timezone.localtime(value, zone) if timezone.is_aware(value) else value
    text = babel_dates.format_datetime(moment, width, locale=current_locale())
    return f"{text} ({getattr(zone, 'key', str(zone))})"


def local_date(value: date | datetime | None, width: str = "medium") -> str:
    """A calendar day in the locale's words: "Dec 6, 2026" / "6 dic 2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    return babel_dates.format_date(value, width, locale=current_locale())
