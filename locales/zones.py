"""Time zones a user may choose: the IANA names Python's zoneinfo knows."""

from functools import cache
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ZONE_MAX_LENGTH = 63  # the longest IANA name is 32 characters; room for new ones


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted (read once per process)."""
    return tuple(sorted(available_timezones()))


def validate_time_zone(value: str) -> None:
    """A blank value (the site's zone) or an IANA zone name such as "America/Bogota"."""
    if value and value not in zone_names():
        raise ValidationError(
            _("Unknown time zone: %(zone)s. Choose one such as America/Bogota."),
            code="invalid_time_zone",
            params={"zone": value[:ZONE_MAX_LENGTH]},
        )
