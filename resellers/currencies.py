"""ISO 4217 currencies people pay with, from pycountry's maintained copy of the standard.

pycountry follows the ISO 4217 amendments (a currency withdrawn there leaves this list with the
next release); the codes below are in the standard but are not money a customer holds: fund
codes, precious metals, bond-market units, drawing rights, and the test and "no currency" codes.
"""

from functools import cache

import pycountry
from babel.numbers import get_currency_name

from locales.formats import current_locale

NOT_MONEY = frozenset(
    {
        *("BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"),  # funds
        *("XAG", "XAU", "XPD", "XPT"),  # precious metals
        *("XBA", "XBB", "XBC", "XBD", "XAD", "XDR", "XSU", "XUA"),  # units of account
        *("XTS", "XXX"),  # testing; no currency
    }
)


@cache
def currency_names() -> dict[str, str]:
    """Code -> English name, e.g. {"EUR": "Euro", ...}, in code order."""
    return {
        c.alpha_3: c.name
        for c in sorted(pycountry.currencies, key=lambda c: c.alpha_3)
        if c.alpha_3 not in NOT_MONEY
    }


ISO_4217 = frozenset(currency_names())


def is_iso_currency(code: str) -> bool:
    return code in ISO_4217


def currency_choices() -> list[tuple[str, str]]:
    """(code, "EUR — Euro") for a select, in code order, named in the active language (babel's
    CLDR names: "EUR — euro" in Spanish); pycountry's English name where CLDR has none. Pass the
    function itself as a form field's `choices`, so each form is named in its reader's language."""
    locale = current_locale()
    choices = []
    for code, english in currency_names().items():
        name = get_currency_name(code, locale=locale)
        choices.append((code, f"{code} — {english if name == code else name}"))
    return choices
