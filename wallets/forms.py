"""Forms of the wallet pages: every input bounded, every message translatable."""

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import SeriesDiscount, Wallet

MAX_MONEY = Decimal("1000000000")  # a top-up, adjustment or credit limit: at most 10^9
MAX_STATEMENT_DAYS = 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def percent_field(label, **kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        **kwargs,
    )


class WalletSettingsForm(forms.Form):
    """How a reseller pays for its cards: billing mode, discount and credit limit."""

    billing_mode = forms.ChoiceField(
        label=_("Billing mode"),
        choices=Wallet.BillingMode.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Prepaid: the wallet is debited at the reseller's price when cards are released "
            "to it. Consignment: debited when one of its cards is redeemed."
        ),
    )
    discount = percent_field(
        _("Discount (%)"), help_text=_("The reseller's price is the card's amount less this.")
    )
    credit_limit = forms.DecimalField(
        label=_("Credit limit"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=MAX_MONEY,
        help_text=_("How far below zero the wallet may go."),
    )

    may_sell_below_cost = forms.BooleanField(
        label=_("May sell below its cost"),
        required=False,
        help_text=_(
            "Lets this reseller give its own sub-resellers a larger discount than it gets."
        ),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)


class SeriesDiscountForm(forms.Form):
    """A discount for one series, instead of the reseller's own; empty removes it."""

    series = forms.ModelChoiceField(label=_("Series"), queryset=SeriesDiscount.objects.none())
    discount = percent_field(
        _("Series discount (%)"),
        required=False,
        help_text=_("Leave empty to use the reseller's discount for this series again."),
    )

    def __init__(self, *args, user=None, reseller=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The series model is the cards' app's, which sits above this one: reached through the
        # relation rather than imported. Series in the user's scope only.
        series = SeriesDiscount._meta.get_field("series").related_model
        self.fields["series"].queryset = series.objects.visible_to(user).order_by("code", "pk")


class WalletMoneyForm(forms.Form):
    """A top-up or an adjustment of a reseller's wallet, always with a note."""

    CREDIT, DEBIT = "credit", "debit"

    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[("topup", _("Top-up (money received)")), ("adjustment", _("Adjustment"))],
        widget=forms.RadioSelect,
        initial="topup",
    )
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[(CREDIT, _("Credit (add to the wallet)")), (DEBIT, _("Debit (take from it)"))],
        widget=forms.RadioSelect,
        initial=CREDIT,
        help_text=_("A top-up is always a credit."),
    )
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_MONEY,
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=255,
        help_text=_("Required: shown on the reseller's statement."),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError(_("Write a note: it is shown on the statement."))
        return note

    def clean(self):
        data = super().clean()
        if data.get("kind") == "topup" and data.get("direction") == self.DEBIT:
            self.add_error("direction", _("A top-up adds money: choose an adjustment to debit."))
        return data

    def signed_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        return -amount if self.cleaned_data["direction"] == self.DEBIT else amount


def this_month() -> tuple[date, date]:
    today = timezone.localdate()
    first = today.replace(day=1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, last


class StatementForm(forms.Form):
    """The statement's period, in days of the user's time zone, both ends included."""

    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, **kwargs):
        first, last = this_month()
        if data is not None and not any(data.get(name) for name in ("start", "end")):
            data = None  # a bare link: this month
        super().__init__(data, initial={"start": first, "end": last}, **kwargs)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        for name, day in (("start", start), ("end", end)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, _("Choose a day between 2000 and 2100."))
                return data
        if start and end:
            if end < start:
                self.add_error("end", _("The period ends before it starts."))
            elif (end - start).days >= MAX_STATEMENT_DAYS:
                self.add_error(
                    "end",
                    _("A statement covers at most %(days)s days: choose a shorter period.")
                    % {"days": MAX_STATEMENT_DAYS},
                )
        return data

    def period(self) -> tuple[date, date]:
        """The chosen days, or this month for an unbound form."""
        if self.is_bound:
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return this_month()
