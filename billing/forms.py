from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator

from resellers.currencies import currency_choices
from resellers.forms import ResellerChoiceField
from resellers.models import Reseller


class AccountSearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        max_length=100,
        required=False,
        help_text="Account number (or its beginning), name or username.",
    )


class AccountOpenForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    reseller = ResellerChoiceField(label="Company", queryset=Reseller.objects.none())
    currency = forms.ChoiceField(
        label="Currency",
        required=False,
        choices=[("", "The company's currency"), *currency_choices()],
    )
    username = forms.CharField(
        label="Login username",
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="The customer signs in with it; a temporary password is shown once.",
    )
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    email = forms.EmailField(label="Email", required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user).active()
        self.fields["reseller"].initial = user.reseller_id


class AccountAdjustForm(forms.Form):
    direction = forms.ChoiceField(
        label="Adjustment",
        choices=[("credit", "Credit (add to the balance)"), ("debit", "Debit (take from it)")],
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        label="Amount", max_digits=12, decimal_places=2, min_value=0.01, max_value=10**9
    )
    note = forms.CharField(
        label="Note",
        max_length=255,
        help_text="Required: shown in the customer's ledger.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
