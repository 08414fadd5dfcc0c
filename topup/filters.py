import re
from urllib.parse import urlencode

import django_filters
from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_filters.fields import DateRangeField

from billing.models import Account
from resellers.models import Reseller

from . import lookups  # noqa: F401 - registers the serial range lookups
from .fields import MoneyField, date_bounds
from .models import Card, Series
from .models.cards import LABEL_MAX

DATE_RANGE = django_filters.widgets.DateRangeWidget(attrs={"type": "date"})


class MoneyFilter(django_filters.NumberFilter):
    """An amount bound: only what a MONEY column can hold reaches the database."""

    field_class = MoneyField


class BoundedDateRangeField(DateRangeField):
    """From-to dates, each a real date between the years 1900 and 2999."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields:
            field.validators.extend(date_bounds())
            field.error_messages["invalid"] = _("Enter a date such as 2026-12-31.")


class DateRangeFilter(django_filters.DateFromToRangeFilter):
    field_class = BoundedDateRangeField


SERIAL = re.compile(r"^([A-Za-z0-9]{1,20})-(\d{1,12})$")


class SerialRangeField(forms.MultiValueField):
    """From-to serial numbers of one series code, e.g. 101-00000001 to 101-00000500.

    Cleans to (first, last) written as the cards are numbered (digits zero-padded to 8), or
    None when both are empty; either end alone is open-ended.
    """

    widget = django_filters.widgets.RangeWidget

    def __init__(self, *args, **kwargs):
        fields = [
            forms.CharField(max_length=40, required=False),
            forms.CharField(max_length=40, required=False),
        ]
        super().__init__(fields, *args, require_all_fields=False, **kwargs)

    def compress(self, data_list):
        if not data_list or not any(data_list):
            return None
        ends = []
        for value in data_list:
            if not value:
                ends.append(None)
                continue
            match = SERIAL.match(value.strip())
            if match is None:
                raise forms.ValidationError(
                    _("Enter serial numbers such as 101-00000001."), code="invalid"
                )
            ends.append((match[1], f"{int(match[2]):08d}"))
        first, last = ends
        if first and last:
            if first[0] != last[0]:
                raise forms.ValidationError(
                    _("Both ends must be of the same series code."), code="two_codes"
                )
            if len(first[1]) != len(last[1]) or first[1] > last[1]:
                raise forms.ValidationError(
                    _("The first serial number must not be after the last."), code="reversed"
                )
        return tuple(f"{end[0]}-{end[1]}" if end else None for end in ends)


class SerialRangeFilter(django_filters.Filter):
    field_class = SerialRangeField

    def filter(self, queryset, value):
        if not value:
            return queryset
        first, last = value
        # The same code is the same prefix, and equal widths compare as numbers.
        prefix = (first or last).split("-")[0] + "-"
        queryset = queryset.filter(number__startswith=prefix)
        if first:
            queryset = queryset.filter(number__pattern_gte=first)
        if last:
            queryset = queryset.filter(number__pattern_lte=last)
        return queryset


class CardFilter(django_filters.FilterSet):
    """The advanced search of the card list; its query string also selects cards to edit."""

    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Card.DISPLAY_STATUSES, method="filter_status"
    )
    series = django_filters.CharFilter(
        label=_("Series code"), method="filter_series", max_length=20
    )
    series_label = django_filters.CharFilter(
        label=_("Series label"), method="filter_series_label", max_length=LABEL_MAX,
        help_text=_("Part of the label, e.g. a purchase order."),
    )  # fmt: skip
    number = django_filters.CharFilter(
        label=_("Serial number"), method="filter_number", max_length=40,
        help_text=_("The whole number or its start."),
    )  # fmt: skip
    serials = SerialRangeFilter(
        label=_("Serial range"), help_text=_("From-to, e.g. 101-00000001 to 101-00000500."),
    )  # fmt: skip
    reseller = django_filters.ModelChoiceFilter(
        label=_("Reseller (and sub-resellers)"), queryset=Reseller.objects.none(),
        method="filter_reseller",
    )  # fmt: skip
    amount_min = MoneyFilter(label=_("Amount from"), field_name="amount", lookup_expr="gte")
    amount_max = MoneyFilter(label=_("Amount to"), field_name="amount", lookup_expr="lte")
    currency = django_filters.CharFilter(
        label=_("Currency"), method="filter_currency", max_length=3
    )
    created = DateRangeFilter(label=_("Created"), field_name="created_at", widget=DATE_RANGE)
    expires = DateRangeFilter(label=_("Expiry"), field_name="expires_at", widget=DATE_RANGE)
    activated = DateRangeFilter(label=_("Activated"), field_name="activated_at", widget=DATE_RANGE)
    activated_by = django_filters.ModelChoiceFilter(
        label=_("Activated by customer"), queryset=Reseller.objects.none()
    )
    sort = django_filters.OrderingFilter(
        label=_("Sort by"),
        fields=[
            ("status", "status"),
            ("number", "number"),
            ("amount", "amount"),
            ("reseller__name", "reseller"),
            ("expires_at", "expires"),
            ("activated_at", "activated"),
            ("created_at", "created"),
        ],
    )

    class Meta:
        model = Card
        fields = []

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["reseller"].queryset = Reseller.objects.visible_to(user)
        self.filters["activated_by"].queryset = Account.objects.visible_to(user)
        # A date range is two inputs under one visible label: name each for screen readers.
        for name in ("created", "expires", "activated", "serials"):
            field = self.form.fields[name]
            first, second = field.widget.widgets
            first.attrs = {**first.attrs, "aria-label": range_end_label(field.label, "from")}
            second.attrs = {**second.attrs, "aria-label": range_end_label(field.label, "to")}
        for widget in self.form.fields["serials"].widget.widgets:
            widget.input_type = "text"
            widget.attrs.update({"maxlength": "40", "placeholder": "101-00000001"})

    # Searches the card summary answers too: its rows carry these columns. Any other search
    # (serial number, created or activated dates, activated by) needs the cards themselves.
    SUMMARY_FILTERS = ("status", "series", "series_label", "reseller", "amount_min",
                       "amount_max", "currency", "expires")  # fmt: skip

    def summary_rows(self, rows):
        """The same search applied to summary rows, or None when it needs the cards."""
        data = self.form.cleaned_data if self.is_bound else {}
        for name, value in data.items():
            if name not in self.SUMMARY_FILTERS and name != "sort" and _given(value):
                return None
        for name in self.SUMMARY_FILTERS:
            if _given(value := data.get(name)):
                rows = self.filters[name].filter(rows, value)
        return rows

    def filter_status(self, queryset, name, value):
        return queryset.with_display(value)

    def filter_number(self, queryset, name, value):
        return queryset.filter(number__startswith=value.strip())

    # Series and subtrees become lists of keys before they reach the card query: the planner
    # then sees plain values (one series is one range of its index) rather than a join.
    def filter_series(self, queryset, name, value):
        ids = Series.objects.filter(code=value.strip()).values_list("pk", flat=True)
        return queryset.filter(series_id__in=list(ids))

    def filter_series_label(self, queryset, name, value):
        # Series are few: their keys by label first, then the cards (or summary rows) by key.
        ids = Series.objects.filter(label__icontains=value.strip()).values_list("pk", flat=True)
        return queryset.filter(series_id__in=list(ids))

    def filter_reseller(self, queryset, name, value):
        ids = Reseller.objects.subtree_of(value).values_list("pk", flat=True)
        return queryset.filter(reseller_id__in=list(ids))

    def filter_currency(self, queryset, name, value):
        return queryset.filter(currency=value.strip().upper())


def _given(value) -> bool:
    """Whether a cleaned search value restricts anything (an empty range does not)."""
    if isinstance(value, slice):
        return value.start is not None or value.stop is not None
    return value not in (None, "", [], ())


RANGE_ENDS = {"after": "from", "min": "from", "before": "to", "max": "to"}


def range_end_label(label, end: str) -> str:
    """One end of a from-to search, named: "Created from", "Created to"."""
    if end == "from":
        return gettext("%(field)s from") % {"field": label}
    return gettext("%(field)s to") % {"field": label}


def search_chips(filterset: CardFilter, pairs: list[tuple[str, str]]) -> list[dict]:
    """The active search as readable chips: label, value in words, and the search without it.

    Only for a valid search: a field in error is shown by the form itself.
    """
    if not filterset.is_bound or not filterset.is_valid():
        return []
    fields = filterset.form.fields
    chips = []
    for index, (name, value) in enumerate(pairs):
        base, _, end = name.rpartition("_")
        if name in fields:
            field, label = fields[name], fields[name].label
        elif base in fields and end in RANGE_ENDS:
            field, label = fields[base], range_end_label(fields[base].label, RANGE_ENDS[end])
        else:
            continue
        shown = value
        if name == "sort":
            continue  # the column headers show the order
        if isinstance(field, forms.ModelChoiceField):
            shown = str(field.queryset.filter(pk=field.clean(value).pk).first() or value)
        elif getattr(field, "choices", None):
            shown = str(dict(field.choices).get(value, value))
        rest = [pair for i, pair in enumerate(pairs) if i != index]
        chips.append({"label": label, "value": shown, "without": urlencode(rest)})
    return chips
