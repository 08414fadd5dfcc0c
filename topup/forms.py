from django import forms
from django.utils import timezone

from resellers.scoping import resellers_visible_to

from .models import PrintShop
from .pins import pin_service
from .services.printing import DEFAULT_INSTRUCTION, SheetLayout

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


class PrintSheetForm(forms.Form):
    paper = forms.ChoiceField(
        label="Paper",
        choices=[
            ("a4", "A4 sheet (210 x 297 mm)"),
            ("letter", "US Letter sheet (8.5 x 11 in)"),
            ("thermal", "80 mm thermal roll, one card per slip"),
        ],
        initial="a4",
        widget=forms.RadioSelect,
    )
    columns = forms.IntegerField(
        label="Columns", min_value=1, max_value=SheetLayout.max_columns, initial=3,
        help_text="Cards across a sheet (not for the thermal roll).",
    )  # fmt: skip
    rows = forms.IntegerField(
        label="Rows", min_value=1, max_value=SheetLayout.max_rows, initial=8,
        help_text="Cards down a sheet.",
    )  # fmt: skip
    qr = forms.ChoiceField(
        label="QR code",
        choices=[
            ("none", "none"),
            ("pin", "the PIN"),
            ("link", "a link to the Payment Gateways page that fills in the PIN"),
        ],
        initial="none",
        widget=forms.RadioSelect,
    )
    instruction = forms.CharField(
        label="Instruction line", max_length=120, initial=DEFAULT_INSTRUCTION,
        help_text="Printed on every card, in your customers' language.",
    )  # fmt: skip

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

    def clean_instruction(self):
        return " ".join(self.cleaned_data["instruction"].split())


class EncryptedExportForm(forms.Form):
    shop = forms.ModelChoiceField(
        label="Print shop", queryset=PrintShop.objects.all(), empty_label=None,
        help_text="The file is encrypted to this shop's OpenPGP key: only the shop can open it.",
    )  # fmt: skip

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)


class PrintShopForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    public_key = forms.CharField(
        label="OpenPGP public key", required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "mono"}),
        help_text="Paste the shop's ASCII-armored public key, or choose its file below.",
    )  # fmt: skip
    key_file = forms.FileField(
        label="Key file", required=False,
        help_text="The public key as a file (.asc or binary .gpg), at most 64 KB.",
    )  # fmt: skip

    MAX_KEY_FILE = 64 * 1024

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        upload = data.get("key_file")
        if upload is not None:
            if upload.size > self.MAX_KEY_FILE:
                self.add_error("key_file", "This file is too large for a public key.")
                return data
            data["public_key"] = upload.read()  # armored or binary: gpg reads both
        elif not data.get("public_key", "").strip():
            self.add_error("public_key", "Paste the shop's public key or choose its file.")
        return data
