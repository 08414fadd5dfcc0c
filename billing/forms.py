from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from resellers.currencies import currency_choices
from resellers.forms import ResellerChoiceField
from resellers.models import Reseller


class AccountSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        max_length=100,
        required=False,
        help_text=_("Account number (or its beginning), name or username."),
    )


class AccountOpenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    reseller = ResellerChoiceField(label=_("Company"), queryset=Reseller.objects.none())
    currency = forms.ChoiceField(
        label=_("Currency"),
        required=False,
        choices=lambda: [("", _("The company's currency")), *currency_choices()],  # per reader
    )
    username = forms.CharField(
        label=_("Login username"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("The customer signs in with it; a temporary password is shown once."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user).active()
        self.fields["reseller"].initial = user.reseller_id


class AccountAdjustForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Adjustment"),
        choices=[
            ("credit", _("Credit (add to the balance)")),
            ("debit", _("Debit (take from it)")),
        ],
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=12, decimal_places=2, min_value=0.01, max_value=10**9
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=255,
        help_text=_("Required: shown in the customer's ledger."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
