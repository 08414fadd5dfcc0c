from django import forms
from django.utils import timezone

from resellers.scoping import resellers_visible_to

from .pins import pin_service

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class SeriesGenerateForm(forms.Form):
    amount = forms.DecimalField(
        label="Amount", max_digits=12, decimal_places=2, min_value=0.01,
        help_text="Added to the customer's balance on activation.",
    )  # fmt: skip
    currency = forms.CharField(
        label="Currency", required=False, max_length=3,
        help_text="ISO 4217 code; empty: the reseller's currency.",
    )  # fmt: skip
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=1_000_000)
    code = forms.RegexField(
        label="Series", regex=r"^[A-Za-z0-9]{1,20}$", max_length=20,
        help_text='Prefixes every card number: series "101" gives 101-00000001.',
        error_messages={"invalid": "Use 1 to 20 letters and digits."},
    )  # fmt: skip
    pin_length = forms.IntegerField(
        label="PIN length", initial=pin_service.default_length,
        min_value=pin_service.min_length, max_value=pin_service.max_length,
        help_text=f"Digits, {pin_service.min_length} to {pin_service.max_length}.",
    )  # fmt: skip
    reseller = forms.ModelChoiceField(label="Reseller", queryset=None)
    expires_at = forms.DateTimeField(
        label="Expiry date", required=False, widget=DATETIME_WIDGET,
        help_text="Empty: the cards never expire.",
    )  # fmt: skip
    valid_from = forms.DateTimeField(
        label="Valid from", required=False, widget=DATETIME_WIDGET,
        help_text="Empty: valid as soon as released. Before it, the cards cannot be redeemed.",
    )  # fmt: skip
    in_stock = forms.TypedChoiceField(
        label="Cards are",
        choices=[
            ("1", "In stock: printed cards, released by serial range when shipped"),
            ("0", "Released now: e-PINs, sold electronically"),
        ],
        coerce=lambda value: value == "1", initial="1", widget=forms.RadioSelect,
        required=False, empty_value=True,  # not chosen: in stock, the safe side
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        resellers = resellers_visible_to(user)
        self.fields["reseller"].queryset = resellers
        self.fields["reseller"].initial = user.reseller_id

    def clean_currency(self):
        # Whether the code is known is the service's rule; the form only tidies what was typed.
        return self.cleaned_data["currency"].strip().upper()


class MassEditForm(forms.Form):
    expiry_mode = forms.ChoiceField(
        label="Expiry date",
        choices=[("preserve", "preserve"), ("set", "set to"), ("clear", "clear (no expiry)")],
        initial="preserve",
        widget=forms.RadioSelect,
    )
    expires_at = forms.DateTimeField(
        label="New expiry date", required=False, widget=DATETIME_WIDGET
    )
    reseller_mode = forms.ChoiceField(
        label="Company",
        choices=[("preserve", "preserve"), ("set", "set to")],
        initial="preserve",
        widget=forms.RadioSelect,
    )
    reseller = forms.ModelChoiceField(label="New company", queryset=None, required=False)
    status_mode = forms.ChoiceField(
        label="Status",
        choices=[("preserve", "preserve"), ("block", "block"), ("unblock", "unblock")],
        initial="preserve",
        widget=forms.RadioSelect,
    )
    confirm_past = forms.BooleanField(
        label="Yes, set an expiry date in the past (the cards expire at once)", required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = resellers_visible_to(user)

    def clean(self):
        data = super().clean()
        if data.get("expiry_mode") == "set":
            when = data.get("expires_at")
            if when is None:
                self.add_error("expires_at", "Enter the new expiry date, or choose preserve.")
            elif when <= timezone.now() and not data.get("confirm_past"):
                self.add_error(
                    "expires_at",
                    "This date is in the past: the cards will expire at once. "
                    "Tick the confirmation below to do it anyway.",
                )
        if data.get("reseller_mode") == "set" and data.get("reseller") is None:
            self.add_error("reseller", "Choose the new company, or choose preserve.")
        if all(data.get(f) == "preserve" for f in ("expiry_mode", "reseller_mode", "status_mode")):
            raise forms.ValidationError("Nothing to change: every field is set to preserve.")
        return data


class UnechoedTextInput(forms.TextInput):
    """A text input that never writes a submitted value back into the page."""

    def format_value(self, value):
        return None


class RedeemForm(forms.Form):
    pin = forms.CharField(
        label="PIN",
        max_length=40,
        widget=UnechoedTextInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
        ),
        help_text="The PIN printed on your top-up card. Spaces and dashes are ignored.",
    )


class CardFindForm(forms.Form):
    number = forms.CharField(
        label="Serial number", max_length=40, help_text="The whole number, e.g. 101-00000001."
    )

    def clean_number(self):
        return self.cleaned_data["number"].strip()


class SupportRedeemForm(RedeemForm):
    """Staff redeem a card for a customer who reads the PIN over the phone."""

    note = forms.CharField(
        label="Note",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you redeem for the customer (e.g. the call or ticket reference).",
        error_messages={"required": "Say why you redeem this card for the customer."},
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[
            "pin"
        ].help_text = "The PIN the customer reads out. Spaces and dashes are ignored."
