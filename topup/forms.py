from dataclasses import fields

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.client_address import lockout_key
from locales.formats import number
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
    lazy_text,
    mode_field,
    name_the_zone,
)
from .models import LANGUAGE_MESSAGE, default_language
from .models.cards import LABEL_MAX, NOTES_MAX
from .pins import pin_service
from .services.bulk.actions import MassEdit


def label_field() -> forms.CharField:
    return forms.CharField(
        label=_("Label"), required=False, max_length=LABEL_MAX,
        help_text=_("Optional: distributor, purchase order, print run. You can search by it."),
        error_messages={
            "max_length": lazy_text(
                _("A label has at most %(most)s characters."), most=lambda: number(LABEL_MAX)
            )
        },
    )  # fmt: skip


def notes_field() -> forms.CharField:
    return forms.CharField(
        label=_("Notes"), required=False, max_length=NOTES_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "max_length": lazy_text(
                _("Notes have at most %(most)s characters."), most=lambda: number(NOTES_MAX)
            )
        },
    )  # fmt: skip


def language_field() -> forms.ChoiceField:
    """The language printed on a series' cards (settings.LANGUAGES; see Series.language)."""
    return forms.ChoiceField(
        label=_("Language printed on the cards"), required=False, choices=settings.LANGUAGES,
        help_text=_("The end customer reads the cards: print sheets in this language by default."),
        error_messages={"invalid_choice": LANGUAGE_MESSAGE},
    )  # fmt: skip


class SeriesDescribeForm(forms.Form):
    """A series' label, notes and printed language, editable on its page."""

    label = label_field()
    notes = notes_field()
    language = language_field()


class SeriesSearchForm(forms.Form):
    """The series overview's search: a series code, or part of a label."""

    q = forms.CharField(
        label=_("Series code or label"), required=False, max_length=LABEL_MAX,
        error_messages={
            "max_length": lazy_text(
                _("Search with at most %(most)s characters."), most=lambda: number(LABEL_MAX)
            )
        },
    )  # fmt: skip


class SeriesGenerateForm(forms.Form):
    amount = MoneyField(
        label=_("Amount"), help_text=_("Added to the customer's balance on activation.")
    )
    currency = forms.ChoiceField(
        label=_("Currency"), required=False,
        choices=[("", _("The reseller's currency")), *currency_choices()],
        help_text=_("Customers redeem cards of their own currency only."),
        error_messages={"invalid_choice": _("Choose a currency from the list.")},
    )  # fmt: skip
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=1_000_000,
        error_messages={
            "required": _("Enter how many cards to generate."),
            "invalid": _("Enter a whole number of cards, such as 1000."),
            "min_value": _("Generate at least 1 card."),
            "max_value": lazy_text(
                _("A series has at most %(most)s cards."), most=lambda: number(1_000_000)
            ),
        },
    )  # fmt: skip
    code = forms.RegexField(
        label=_("Series"), regex=r"^[A-Za-z0-9]{1,20}$", max_length=20,
        help_text=_('Prefixes every card number: series "101" gives 101-00000001.'),
        error_messages={
            "required": _("Enter the series code, such as 101."),
            "invalid": _("Use 1 to 20 letters and digits."),
            "max_length": _("Use 1 to 20 letters and digits."),
        },
    )  # fmt: skip
    pin_length = forms.IntegerField(
        label=_("PIN length"), initial=pin_service.default_length,
        min_value=pin_service.min_length, max_value=pin_service.max_length,
        help_text=lazy_text(
            _("Digits, %(least)s to %(most)s."),
            least=pin_service.min_length, most=pin_service.max_length,
        ),
        error_messages={
            "required": _("Enter the number of digits of each PIN."),
            "invalid": _("Enter a whole number of digits, such as 12."),
            "min_value": lazy_text(
                _("A PIN has at least %(least)s digits: shorter PINs are too easy to guess."),
                least=pin_service.min_length,
            ),
            "max_value": lazy_text(
                _("A PIN has at most %(most)s digits."), most=pin_service.max_length
            ),
        },
    )  # fmt: skip
    reseller = forms.ModelChoiceField(
        label=_("Reseller"), queryset=None, widget=ResellerSelect(attrs={"data-sets-currency": ""}),
        error_messages={
            "required": _("Choose the reseller that owns the cards."),
            "invalid_choice": RESELLER_OUT_OF_SCOPE,
        },
    )  # fmt: skip
    expires_at = BoundedDateTimeField(
        label=_("Expiry date"), required=False, widget=DATETIME_WIDGET,
        help_text=_("Empty: the cards never expire."),
    )  # fmt: skip
    valid_from = BoundedDateTimeField(
        label=_("Valid from"), required=False, widget=DATETIME_WIDGET,
        help_text=_("Empty: valid as soon as released. Before it, the cards cannot be redeemed."),
    )  # fmt: skip
    in_stock = forms.TypedChoiceField(
        label=_("Cards are"),
        choices=[
            ("1", _("In stock: printed cards, released by serial range when shipped")),
            ("0", _("Released now: e-PINs, sold electronically")),
        ],
        coerce=lambda value: value == "1", initial="1", widget=forms.RadioSelect,
        required=False, empty_value=True,  # not chosen: in stock, the safe side
    )  # fmt: skip
    label = label_field()
    notes = notes_field()
    language = language_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        resellers = Reseller.objects.visible_to(user)
        self.fields["reseller"].queryset = resellers
        self.fields["reseller"].initial = user.reseller_id
        # The owner's currency, preselected (static/js/app.js follows a change of reseller).
        self.fields["currency"].initial = user.reseller.currency if user.reseller else ""
        self.fields["language"].initial = default_language()
        name_the_zone(self)


class ReleaseForm(forms.Form):
    """Release cards for sale; the box may go to a reseller at the same time."""

    reseller = forms.ModelChoiceField(
        label=_("Move to reseller"), queryset=None, required=False,
        empty_label=_("— keep the current owners —"),
        help_text=_("The company that receives the box (optional)."),
        error_messages={"invalid_choice": RESELLER_OUT_OF_SCOPE},
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user)


class MassEditForm(forms.Form):
    expiry_mode = mode_field(
        _("Expiry date"),
        [("preserve", _("preserve")), ("set", _("set to")), ("clear", _("clear (no expiry)"))],
    )
    expires_at = BoundedDateTimeField(
        label=_("New expiry date"), required=False, widget=DATETIME_WIDGET
    )
    reseller_mode = mode_field(_("Company"), [("preserve", _("preserve")), ("set", _("set to"))])
    reseller = forms.ModelChoiceField(
        label=_("New company"), queryset=None, required=False,
        error_messages={"invalid_choice": RESELLER_OUT_OF_SCOPE},
    )  # fmt: skip
    status_mode = mode_field(
        _("Status"), [("preserve", _("preserve")), ("block", _("block")), ("unblock", _("unblock"))]
    )
    confirm_past = forms.BooleanField(
        label=_("Yes, set an expiry date in the past (the cards expire at once)"), required=False
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
                _(
                    "This date is in the past: the cards will expire at once. "
                    "Tick the confirmation below to do it anyway."
                ),
            )
        return data


class CardSelectionForm(forms.Form):
    """Which cards a bulk action applies to: the ticked ones or the whole search."""

    apply_to = forms.ChoiceField(
        choices=[("selected", _("Ticked cards")), ("search", _("All cards of this search"))],
        required=False,
        error_messages={"invalid_choice": _("Choose ticked cards or all cards of the search.")},
    )
    card = CardIdsField(queryset=None, required=False)

    def __init__(self, *args, cards, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = cards

    def clean(self):
        data = super().clean()
        if data.get("apply_to") == "selected" and "card" not in self.errors and not data["card"]:
            self.add_error("card", _("Tick at least one card, or choose all cards of the search."))
        return data


class RedeemForm(forms.Form):
    # The customer's own PIN is written back after a refusal, so that one mistyped digit is
    # fixed rather than the whole PIN typed again: only into this re-rendered form (signed-in
    # pages are never cached), never logged (the view hides it from error reports).
    pin = forms.CharField(
        label=_("PIN"),
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
        help_text=_("The PIN printed on your top-up card. Spaces and dashes are ignored."),
        error_messages={
            "required": _("Enter the PIN printed on your card."),
            "max_length": _("A PIN has at most 20 digits; check what you typed."),
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
            raise forms.ValidationError(
                _("Enter an IP address or an IPv6 /64 network."), code="invalid"
            )
        return key

    def clean(self):
        data = super().clean()
        named = [
            data.get("account") is not None,
            bool(data.get("address")),
            bool(data.get("api_key")),
        ]
        if not self.errors and sum(named) != 1:
            raise forms.ValidationError(
                _("Name one account, one address or one API key."), code="one"
            )
        return data


class CardFindForm(forms.Form):
    number = forms.CharField(
        label=_("Serial number"), max_length=40, help_text=_("The whole number, e.g. 101-00000001.")
    )

    def clean_number(self):
        return self.cleaned_data["number"].strip()


class SupportRedeemForm(RedeemForm):
    """Staff redeem a card for a customer who reads the PIN over the phone."""

    note = forms.CharField(
        label=_("Note"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why you redeem for the customer (e.g. the call or ticket reference)."),
        error_messages={"required": _("Say why you redeem this card for the customer.")},
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        pin = self.fields["pin"]
        pin.help_text = _("The PIN the customer reads out. Spaces and dashes are ignored.")
        # Staff take a customer's PIN down: it is not written back into their page.
        pin.widget = UnechoedTextInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
        )


class LiabilityReportForm(forms.Form):
    """The liability report's choices: how many months, and one reseller's subtree or all."""

    months = forms.IntegerField(
        label=_("Months"), min_value=1, max_value=36, initial=12, required=False,
        help_text=_("The most recent months, this one included (1 to 36)."),
    )  # fmt: skip
    reseller = forms.ModelChoiceField(
        label=_("Reseller (and sub-resellers)"), queryset=None, required=False,
        empty_label=_("All in my part of the tree"),
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user)
