from dataclasses import fields

from django import forms
from django.utils import timezone

from config.client_address import lockout_key
from resellers.currencies import currency_choices
from resellers.models import Reseller
from resellers.scoping import RESELLER_OUT_OF_SCOPE

from .fields import (
    DATETIME_WIDGET,
    MAX_ID,
    BoundedDateTimeField,
    CardIdsField,
    MoneyField,
    ResellerSelect,
    UnechoedTextInput,
    mode_field,
    name_the_zone,
)
from .models import PrintShop
from .models.cards import LABEL_MAX, NOTES_MAX
from .pins import pin_service
from .services.bulk.actions import MassEdit
from .services.printing.sheets import DEFAULT_INSTRUCTION, SheetLayout


def label_field() -> forms.CharField:
    return forms.CharField(
        label="Label", required=False, max_length=LABEL_MAX,
        help_text="Optional: distributor, purchase order, print run. You can search by it.",
        error_messages={"max_length": f"A label has at most {LABEL_MAX} characters."},
    )  # fmt: skip


def notes_field() -> forms.CharField:
    return forms.CharField(
        label="Notes", required=False, max_length=NOTES_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": f"Notes have at most {NOTES_MAX:,} characters."},
    )  # fmt: skip


class SeriesDescribeForm(forms.Form):
    """A series' label and notes, editable on its page."""

    label = label_field()
    notes = notes_field()


class SeriesSearchForm(forms.Form):
    """The series overview's search: a series code, or part of a label."""

    q = forms.CharField(
        label="Series code or label", required=False, max_length=LABEL_MAX,
        error_messages={"max_length": f"Search with at most {LABEL_MAX} characters."},
    )  # fmt: skip


class SeriesGenerateForm(forms.Form):
    amount = MoneyField(label="Amount", help_text="Added to the customer's balance on activation.")
    currency = forms.ChoiceField(
        label="Currency", required=False,
        choices=[("", "The reseller's currency"), *currency_choices()],
        help_text="Customers redeem cards of their own currency only.",
        error_messages={"invalid_choice": "Choose a currency from the list."},
    )  # fmt: skip
    quantity = forms.IntegerField(
        label="Quantity", min_value=1, max_value=1_000_000,
        error_messages={
            "required": "Enter how many cards to generate.",
            "invalid": "Enter a whole number of cards, such as 1000.",
            "min_value": "Generate at least 1 card.",
            "max_value": "A series has at most 1,000,000 cards.",
        },
    )  # fmt: skip
    code = forms.RegexField(
        label="Series", regex=r"^[A-Za-z0-9]{1,20}$", max_length=20,
        help_text='Prefixes every card number: series "101" gives 101-00000001.',
        error_messages={
            "required": "Enter the series code, such as 101.",
            "invalid": "Use 1 to 20 letters and digits.",
            "max_length": "Use 1 to 20 letters and digits.",
        },
    )  # fmt: skip
    pin_length = forms.IntegerField(
        label="PIN length", initial=pin_service.default_length,
        min_value=pin_service.min_length, max_value=pin_service.max_length,
        help_text=f"Digits, {pin_service.min_length} to {pin_service.max_length}.",
        error_messages={
            "required": "Enter the number of digits of each PIN.",
            "invalid": "Enter a whole number of digits, such as 12.",
            "min_value": (
                f"A PIN has at least {pin_service.min_length} digits: "
                "shorter PINs are too easy to guess."
            ),
            "max_value": f"A PIN has at most {pin_service.max_length} digits.",
        },
    )  # fmt: skip
    reseller = forms.ModelChoiceField(
        label="Reseller", queryset=None, widget=ResellerSelect(attrs={"data-sets-currency": ""}),
        error_messages={
            "required": "Choose the reseller that owns the cards.",
            "invalid_choice": RESELLER_OUT_OF_SCOPE,
        },
    )  # fmt: skip
    expires_at = BoundedDateTimeField(
        label="Expiry date", required=False, widget=DATETIME_WIDGET,
        help_text="Empty: the cards never expire.",
    )  # fmt: skip
    valid_from = BoundedDateTimeField(
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
    label = label_field()
    notes = notes_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        resellers = Reseller.objects.visible_to(user)
        self.fields["reseller"].queryset = resellers
        self.fields["reseller"].initial = user.reseller_id
        # The owner's currency, preselected (static/js/app.js follows a change of reseller).
        self.fields["currency"].initial = user.reseller.currency if user.reseller else ""
        name_the_zone(self)


class ReleaseForm(forms.Form):
    """Release cards for sale; the box may go to a reseller at the same time."""

    reseller = forms.ModelChoiceField(
        label="Move to reseller", queryset=None, required=False,
        empty_label="— keep the current owners —",
        help_text="The company that receives the box (optional).",
        error_messages={"invalid_choice": RESELLER_OUT_OF_SCOPE},
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user)


class MassEditForm(forms.Form):
    expiry_mode = mode_field(
        "Expiry date", [("preserve", "preserve"), ("set", "set to"), ("clear", "clear (no expiry)")]
    )
    expires_at = BoundedDateTimeField(
        label="New expiry date", required=False, widget=DATETIME_WIDGET
    )
    reseller_mode = mode_field("Company", [("preserve", "preserve"), ("set", "set to")])
    reseller = forms.ModelChoiceField(
        label="New company", queryset=None, required=False,
        error_messages={"invalid_choice": RESELLER_OUT_OF_SCOPE},
    )  # fmt: skip
    status_mode = mode_field(
        "Status", [("preserve", "preserve"), ("block", "block"), ("unblock", "unblock")]
    )
    confirm_past = forms.BooleanField(
        label="Yes, set an expiry date in the past (the cards expire at once)", required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user)
        name_the_zone(self)

    def clean(self):
        data = super().clean()
        # The service's own rules, each shown on its field unless the field already says why.
        edit = MassEdit(**{field.name: data.get(field.name) for field in fields(MassEdit)})
        for field, message in edit.problems(user=self.user).items():
            if field not in self.errors:
                self.add_error(field, message)
        when = data.get("expires_at")
        past = edit.expiry_mode == "set" and when is not None and when <= timezone.now()
        if past and not data.get("confirm_past") and "expires_at" not in self.errors:
            self.add_error(
                "expires_at",
                "This date is in the past: the cards will expire at once. "
                "Tick the confirmation below to do it anyway.",
            )
        return data


class CardSelectionForm(forms.Form):
    """Which cards a bulk action applies to: the ticked ones or the whole search."""

    apply_to = forms.ChoiceField(
        choices=[("selected", "Ticked cards"), ("search", "All cards of this search")],
        required=False,
        error_messages={"invalid_choice": "Choose ticked cards or all cards of the search."},
    )
    card = CardIdsField(queryset=None, required=False)

    def __init__(self, *args, cards, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = cards

    def clean(self):
        data = super().clean()
        if data.get("apply_to") == "selected" and "card" not in self.errors and not data["card"]:
            self.add_error("card", "Tick at least one card, or choose all cards of the search.")
        return data


class RedeemForm(forms.Form):
    # The customer's own PIN is written back after a refusal, so that one mistyped digit is
    # fixed rather than the whole PIN typed again: only into this re-rendered form (signed-in
    # pages are never cached), never logged (the view hides it from error reports).
    pin = forms.CharField(
        label="PIN",
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "inputmode": "numeric",
                "spellcheck": "false",
                "autofocus": True,
                "data-pin-groups": "",
            }
        ),  # fmt: skip
        help_text="The PIN printed on your top-up card. Spaces and dashes are ignored.",
        error_messages={
            "required": "Enter the PIN printed on your card.",
            "max_length": "A PIN has at most 20 digits; check what you typed.",
        },
    )


class LockoutLiftForm(forms.Form):
    """The lockout to lift: an account (by id), a client address or an API key (by its public
    id), as the attempts page posts."""

    account = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    # An address, or a lockout key as the page shows it (an IPv6 client's /64).
    address = forms.CharField(required=False, max_length=49)
    api_key = forms.RegexField(required=False, regex=r"^[0-9a-f]{1,24}$", max_length=24)

    def clean_address(self) -> str:
        value = self.cleaned_data["address"]
        if not value:
            return ""
        key = lockout_key(value)
        if key is None:
            raise forms.ValidationError("Enter an IP address or an IPv6 /64 network.")
        return key

    def clean(self):
        data = super().clean()
        named = [
            data.get("account") is not None,
            bool(data.get("address")),
            bool(data.get("api_key")),
        ]
        if not self.errors and sum(named) != 1:
            raise forms.ValidationError("Name one account, one address or one API key.")
        return data


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
        pin = self.fields["pin"]
        pin.help_text = "The PIN the customer reads out. Spaces and dashes are ignored."
        # Staff take a customer's PIN down: it is not written back into their page.
        pin.widget = UnechoedTextInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
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


class LiabilityReportForm(forms.Form):
    """The liability report's choices: how many months, and one reseller's subtree or all."""

    months = forms.IntegerField(
        label="Months", min_value=1, max_value=36, initial=12, required=False,
        help_text="The most recent months, this one included (1 to 36).",
    )  # fmt: skip
    reseller = forms.ModelChoiceField(
        label="Reseller (and sub-resellers)", queryset=None, required=False,
        empty_label="All in my part of the tree",
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user)
