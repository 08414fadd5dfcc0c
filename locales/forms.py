from django import forms
from django.conf import settings
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from .zones import zone_names


def language_choices() -> list[tuple[str, str]]:
    """The site's languages, each in its own name ("Español", "العربيّة")."""
    return [(code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES]


class PreferencesForm(forms.Form):
    """The signed-in user's own language and time zone; blank follows the browser and the site."""

    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("Blank: the language your browser asks for."),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("Every date and time on the pages is shown in this zone."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("Your browser's language"))] + language_choices()
        site = _("The site's time zone (%(zone)s)") % {"zone": settings.TIME_ZONE}
        self.fields["time_zone"].choices = [("", site)] + [(z, z) for z in zone_names()]


class LanguageForm(forms.Form):
    """The header's language switcher, as Django's `set_language` reads it."""

    language = forms.ChoiceField(choices=settings.LANGUAGES)
