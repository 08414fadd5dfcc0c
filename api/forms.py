from django import forms
from django.core.exceptions import ValidationError

from resellers.models import Reseller

from .services import MAX_NETWORKS, parse_networks


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the key is for, e.g. “IVR node 2”.",
    )
    reseller = forms.ModelChoiceField(
        label="Reseller",
        queryset=None,
        help_text="The key acts only on the accounts of this reseller and the ones below it.",
    )
    networks = forms.CharField(
        label="Allowed networks",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=(
            "Addresses or networks the integration calls from, one per line "
            f"(e.g. 192.0.2.10 or 2001:db8::/48); at most {MAX_NETWORKS}."
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
