"""Form fields and validators shared by the forms and the card search (topup/filters.py)."""

from datetime import date, datetime
from decimal import Decimal

from babel.lists import format_list
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.models import CENT, MONEY
from locales.formats import current_locale, number

# At most this many cards can be ticked on the card list for one action.
MAX_TICKED_CARDS = 10_000
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
# Dates people may type anywhere: wide enough for any real card, narrow enough that every
# time zone's conversion and every database can hold it.
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2999, 12, 31)
DATE_BOUNDS_MESSAGE = _("Enter a date between the years 1900 and 2999.")
# The largest amount a MONEY column holds: 999,999,999,999.99.
MAX_MONEY = Decimal(10 ** (MONEY["max_digits"] - MONEY["decimal_places"])) - CENT
MAX_ID = 2**63 - 1  # bigint


def _interpolated(message, params: dict) -> str:
    return str(message) % {k: (v() if callable(v) else v) for k, v in params.items()}


def lazy_text(message, **params) -> str:
    """`message % params` done when shown, in the user's language: for messages made at
    import (field labels, error messages). A param may be a callable (a number formatted for
    the locale then). Mark `message` with gettext_lazy where it is written."""
    return lazy(_interpolated, str)(message, params)


def date_bounds(*, with_time: bool = False) -> list:
    """Validators keeping a typed date (or date and time) within FIRST_DATE and LAST_DATE."""
    low, high = FIRST_DATE, LAST_DATE
    if with_time:
        zone = timezone.get_current_timezone()
        low = datetime.combine(low, datetime.min.time(), tzinfo=zone)
        high = datetime.combine(high, datetime.max.time(), tzinfo=zone)
    return [
        MinValueValidator(low, message=DATE_BOUNDS_MESSAGE),
        MaxValueValidator(high, message=DATE_BOUNDS_MESSAGE),
    ]


def in_date_bounds(value: datetime) -> bool:
    """Whether a date and time is within `date_bounds`: the services' check of the same rule."""
    try:
        for validator in date_bounds(with_time=True):
            validator(value)
    except forms.ValidationError:
        return False
    return True


def zone_name() -> str:
    """The time zone dates are typed and shown in, named: "Europe/Paris (CET)", "UTC"."""
    name = timezone.get_current_timezone_name()
    short = timezone.localtime().strftime("%Z")
    return name if short == name else f"{name} ({short})"


def name_the_zone(form: forms.Form) -> None:
    """Say on each date-and-time field which time zone it is in."""
    for field in form.fields.values():
        if isinstance(field, forms.DateTimeField):
            zone = gettext("Time zone: %(zone)s.") % {"zone": zone_name()}
            field.help_text = f"{field.help_text} {zone}".strip()  # two whole sentences


class BoundedDateTimeField(forms.DateTimeField):
    """A date and time within the years 1900 to 2999, in the user's time zone."""

    default_error_messages = {"invalid": _("Enter a date and time such as 2027-12-31 23:59.")}

    def validate(self, value):
        super().validate(value)
        if value is not None:
            for validator in date_bounds(with_time=True):
                validator(value)


class MoneyField(forms.DecimalField):
    """An amount the database can store exactly: MONEY's digits and decimals, at least a cent."""

    def __init__(self, *, min_value: Decimal = CENT, **kwargs):
        most = lazy_text(
            _("Enter an amount of at most %(most)s."), most=lambda: number(MAX_MONEY, 2)
        )
        kwargs["error_messages"] = {
            "required": _("Enter the amount."),
            "invalid": _("Enter an amount such as 10.00."),
            "min_value": lazy_text(
                _("Enter an amount of at least %(least)s."), least=lambda: number(min_value, 2)
            ),
            "max_digits": most,
            "max_whole_digits": most,
            "max_decimal_places": _("An amount has at most 2 decimals (cents)."),
            **kwargs.get("error_messages", {}),
        }
        super().__init__(
            max_digits=MONEY["max_digits"],
            decimal_places=MONEY["decimal_places"],
            min_value=min_value,  # the digits bound the top: at most MAX_MONEY
            **kwargs,
        )


class ResellerSelect(forms.Select):
    """A reseller select whose options carry their currency, for the currency to follow."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-currency"] = instance.currency
        return option


def _choose(choices) -> str:
    names = [gettext("“%(choice)s”") % {"choice": name} for _key, name in choices]
    return gettext("Choose %(choices)s.") % {
        "choices": format_list(names, style="or", locale=current_locale())
    }


def mode_field(label: str, choices: list[tuple[str, str]]) -> forms.ChoiceField:
    choose = lazy(_choose, str)(choices)
    return forms.ChoiceField(
        label=label,
        choices=choices,
        initial="preserve",
        widget=forms.RadioSelect,
        error_messages={
            "required": choose,
            "invalid_choice": choose,
        },
    )


class CardIdsField(forms.ModelMultipleChoiceField):
    """Ticked cards by id: plain ASCII digits, at most `max_count`, each one of `queryset`.

    Cleans to the sorted ids. `str.isdigit()` and `int()` accept other scripts' digits ("²",
    "١"); an id here is what the card list writes, nothing else. One query checks them all.
    """

    max_count = MAX_TICKED_CARDS
    default_error_messages = {
        "invalid_list": _("The ticked cards are not valid."),
        "invalid_pk_value": _("The ticked cards are not valid."),
        "invalid_choice": _(
            "Some ticked cards no longer exist or are not yours to change. "
            "Reload the card list and tick them again."
        ),
        "too_many": lazy_text(
            _("Tick at most %(most)s cards, or choose all cards of the search."),
            most=lambda: number(MAX_TICKED_CARDS),
        ),
    }

    def clean(self, value):
        if not value:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        if not isinstance(value, list | tuple):
            raise forms.ValidationError(self.error_messages["invalid_list"], code="invalid_list")
        return self._check_values(value)

    def _check_values(self, value):
        if len(value) > self.max_count:
            raise forms.ValidationError(self.error_messages["too_many"], code="too_many")
        ids = set()
        for raw in value:
            plain = isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19
            if not plain or not 0 < int(raw) <= MAX_ID:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value"
                )
            ids.add(int(raw))
        if set(self.queryset.filter(pk__in=ids).values_list("pk", flat=True)) != ids:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return sorted(ids)


class UnechoedTextInput(forms.TextInput):
    """A text input that never writes a submitted value back into the page."""

    def format_value(self, value):
        return None
