from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from resellers.models import Reseller

from .models import ApiRight
from .services import MAX_NETWORKS, parse_networks


def _networks_help() -> str:
    """Formatted when shown, in the reader's language (a `%` on a lazy plural would format
    it once, at import, in English)."""
    return ngettext(
        "Addresses or networks the integration calls from, one per line "
        "(e.g. 192.0.2.10 or 2001:db8::/48); at most %(count)d address or network.",
        "Addresses or networks the integration calls from, one per line "
        "(e.g. 192.0.2.10 or 2001:db8::/48); at most %(count)d addresses or networks.",
        MAX_NETWORKS,
    ) % {"count": MAX_NETWORKS}


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, e.g. “IVR node 2”."),
    )
    reseller = forms.ModelChoiceField(
        label=_("Reseller"),
        queryset=None,
        help_text=_("The key acts only on the accounts of this reseller and the ones below it."),
    )
    networks = forms.CharField(
        label=_("Allowed networks"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=lazy(_networks_help, str)(),
    )

    rights = forms.MultipleChoiceField(
        label=_("Rights"),
        required=False,
        choices=ApiRight.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Every key redeems PINs and reads balances; these add more. The key acts for you: "
            "it can never do what you may not, and four eyes applies to it as to you."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user)

    def clean_networks(self):
        try:
            return parse_networks(self.cleaned_data["networks"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
