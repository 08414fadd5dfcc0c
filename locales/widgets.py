"""Date inputs: the browser's native picker, whose value is always ISO whatever the language.

Django would write a date in the active language's format ("06/12/2026" in Spanish), which a
`type="date"` input cannot read; these write ISO and the fields read ISO in every language
(Django appends the ISO input formats to each language's own).
"""

from django import forms
from django_filters.widgets import DateRangeWidget

ISO_DATE = "%Y-%m-%d"
ISO_DATETIME = "%Y-%m-%dT%H:%M"


class DateInput(forms.DateInput):
    """`<input type="date">` with an ISO value (2026-12-31)."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=ISO_DATE)


class DateTimeInput(forms.DateTimeInput):
    """`<input type="datetime-local">` with an ISO value (2026-12-31T23:59), in the user's zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=ISO_DATETIME)


class DateRangeInput(DateRangeWidget):
    """django-filter's from-to dates (`name_after`, `name_before`) as two native date inputs."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.widgets = [DateInput(attrs=widget.attrs) for widget in self.widgets]
