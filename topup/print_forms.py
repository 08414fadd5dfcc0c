"""The forms of cards leaving with their PINs: the printed sheet, the print shops' file."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import PrintShop, default_language
from .services.printing.sheets import DEFAULT_INSTRUCTION, SheetLayout


class PrintSheetForm(forms.Form):
    paper = forms.ChoiceField(
        label=_("Paper"),
        choices=[
            ("a4", _("A4 sheet (210 x 297 mm)")),
            ("letter", _("US Letter sheet (8.5 x 11 in)")),
            ("thermal", _("80 mm thermal roll, one card per slip")),
        ],
        initial="a4",
        widget=forms.RadioSelect,
    )
    columns = forms.IntegerField(
        label=_("Columns"), min_value=1, max_value=SheetLayout.max_columns, initial=3,
        help_text=_("Cards across a sheet (not for the thermal roll)."),
    )  # fmt: skip
    rows = forms.IntegerField(
        label=_("Rows"), min_value=1, max_value=SheetLayout.max_rows, initial=8,
        help_text=_("Cards down a sheet."),
    )  # fmt: skip
    qr = forms.ChoiceField(
        label=_("QR code"),
        choices=[
            ("none", _("none")),
            ("pin", _("the PIN")),
            ("link", _("a link to the Payment Gateways page that fills in the PIN")),
        ],
        initial="none",
        widget=forms.RadioSelect,
    )
    language = forms.ChoiceField(
        label=_("Language printed on the cards"), choices=(), required=False,
        help_text=_("The end customer reads the cards: their words are printed in this language."),
    )  # fmt: skip
    instruction = forms.CharField(
        label=_("Instruction line"), max_length=120, initial=_(DEFAULT_INSTRUCTION),
        help_text=_(
            "Printed on every card. Left as it is, the standard line is printed in the cards' "
            "language; a line you write is printed as written."
        ),
    )  # fmt: skip

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = list(settings.LANGUAGES)
        self.fields["language"].initial = self.initial.get("language") or default_language()

    def clean_language(self) -> str:
        """Not given (an older form, a script): the cards' own language, as offered."""
        return self.cleaned_data["language"] or self.fields["language"].initial

    def clean_instruction(self) -> str:
        """The standard line (as shown, in the operator's language) stays the standard line,
        printed in the cards' language; anything else is printed as written."""
        text = " ".join(self.cleaned_data["instruction"].split())
        if text in (DEFAULT_INSTRUCTION, gettext(DEFAULT_INSTRUCTION)):
            return DEFAULT_INSTRUCTION
        return text


class EncryptedExportForm(forms.Form):
    shop = forms.ModelChoiceField(
        label=_("Print shop"), queryset=PrintShop.objects.all(), empty_label=None,
        help_text=_("The file is encrypted to this shop's OpenPGP key: only the shop can open it."),
    )  # fmt: skip

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)


class PrintShopForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    public_key = forms.CharField(
        label=_("OpenPGP public key"), required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "mono"}),
        help_text=_("Paste the shop's ASCII-armored public key, or choose its file below."),
    )  # fmt: skip
    key_file = forms.FileField(
        label=_("Key file"), required=False,
        help_text=_("The public key as a file (.asc or binary .gpg), at most 64 KB."),
    )  # fmt: skip

    MAX_KEY_FILE = 64 * 1024

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        upload = data.get("key_file")
        if upload is not None:
            if upload.size > self.MAX_KEY_FILE:
                self.add_error("key_file", _("This file is too large for a public key."))
                return data
            data["public_key"] = upload.read()  # armored or binary: gpg reads both
        elif not data.get("public_key", "").strip():
            self.add_error("public_key", _("Paste the shop's public key or choose its file."))
        return data


def language_name(code: str) -> str:
    """A language of settings.LANGUAGES by its name, in the user's language; else its code."""
    return str(dict(settings.LANGUAGES).get(code, code))
