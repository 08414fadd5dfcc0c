"""The e-PIN product form: what an operator defines for shops to sell (every field bounded)."""

import copy

from django import forms
from django.utils.translation import gettext_lazy as _

from resellers.currencies import currency_choices
from resellers.models import Reseller
from resellers.scoping import RESELLER_OUT_OF_SCOPE

from .fields import MoneyField
from .forms import SeriesGenerateForm
from .models import EpinProduct, Series
from .models.epins import VALIDITY_DAYS_MAX


class EpinProductForm(forms.Form):
    code = forms.SlugField(
        label=_("Product code"), max_length=40,
        help_text=_("What a shop sends as `product`, such as usd10. Fixed once created."),
        error_messages={
            "required": _("Enter the product code."),
            "invalid": _("Use letters, digits, hyphens and underscores."),
        },
    )  # fmt: skip
    name = forms.CharField(
        label=_("Name"), max_length=100,
        error_messages={"required": _("Enter the product's name.")},
    )  # fmt: skip
    reseller = forms.ModelChoiceField(
        label=_("Sold by"), queryset=None,
        help_text=_("This company's keys and those below it sell the product."),
        error_messages={
            "required": _("Choose the company whose keys sell it."),
            "invalid_choice": RESELLER_OUT_OF_SCOPE,
        },
    )  # fmt: skip
    amount = MoneyField(label=_("Amount"))
    currency = forms.ChoiceField(
        label=_("Currency"), choices=currency_choices,
        error_messages={"invalid_choice": _("Choose a currency from the list.")},
    )  # fmt: skip
    validity_days = forms.IntegerField(
        label=_("Validity (days)"), required=False, min_value=1, max_value=VALIDITY_DAYS_MAX,
        help_text=_("How long a card made on demand stays valid. Empty: it never expires."),
        error_messages={
            "invalid": _("Enter a whole number of days, such as 365."),
            "min_value": _("Enter at least 1 day."),
            "max_value": _("Enter at most %(limit_value)s days."),
        },
    )  # fmt: skip
    series = forms.ModelMultipleChoiceField(
        label=_("Stock series"), queryset=None, required=False,
        help_text=_("Released, unsold cards of these series are sold first."),
        error_messages={"invalid_choice": _("Choose series of your part of the tree.")},
    )  # fmt: skip
    make_on_demand = forms.BooleanField(
        label=_("Make a card when the stock is empty"), required=False,
        help_text=_("Generated in your name, with your rights, one card per sale."),
    )  # fmt: skip
    series_code = copy.deepcopy(SeriesGenerateForm.base_fields["code"])
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, user, product: EpinProduct | None = None, **kwargs):
        if product is not None:
            values = {name: getattr(product, name) for name in self.base_fields if name != "series"}
            kwargs["initial"] = {
                **values,
                "reseller": product.reseller_id,
                "series": list(product.series.values_list("pk", flat=True)),
                **(kwargs.get("initial") or {}),
            }
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user)
        self.fields["series"].queryset = (
            Series.objects.visible_to(user)
            .filter(state=Series.State.DONE)
            .exclude(quantity=1, cards__sale__isnull=False)  # a card made for a sale: no stock
            .order_by("-pk")
        )
        self.fields["series_code"].required = False
        self.fields["series_code"].label = _("Series code of cards made on demand")
        if product is not None:
            self.fields["code"].disabled = True
