"""The currency list lives in `resellers` (companies have currencies too); kept importable."""

from resellers.currencies import ISO_4217, currency_choices, is_iso_currency

__all__ = ["ISO_4217", "currency_choices", "is_iso_currency"]
