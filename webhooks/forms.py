from django import forms
from django.utils.translation import gettext_lazy as _

from resellers.scoping import resellers_visible_to

from .models import EventType


class SubscriptionCreateForm(forms.Form):
    reseller = forms.ModelChoiceField(
        label=_("Reseller"),
        queryset=None,
        help_text=_("Events of this reseller and the ones below it are sent."),
    )
    url = forms.URLField(
        label=_("Receiver URL"),
        max_length=2000,
        assume_scheme="https",
        help_text=_("Receives POSTs."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = resellers_visible_to(user)
