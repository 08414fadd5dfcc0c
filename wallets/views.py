"""The wallet pages of the Resellers section: a reseller's wallet, its settings and discounts,
top-ups and adjustments (with four eyes above a setting), and its statements.

Scope and rights come from `access`: another reseller's wallet is a 404, one's own is
read-only, a parent manages its children's.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from locales.formats import money
from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin

from . import services
from .access import check_may_manage, may_manage, reseller_for_wallet
from .forms import SeriesDiscountForm, StatementForm, WalletMoneyForm, WalletSettingsForm
from .models import SeriesDiscount, Wallet
from .printing import statement_csv_lines, statement_filename, statement_pdf
from .statements import PDF_ROWS, wallet_statement

READ_ONLY = ["get", "head", "options"]


class WalletMixin(RightRequiredMixin, StaffRequiredMixin):
    """A page about the wallet of the reseller in the URL, in the user's scope."""

    permission_required = "wallets.view_wallet"
    manages = False  # pages that change the wallet: only a parent of the reseller

    def has_permission(self):
        if not super().has_permission():
            return False
        if self.manages:
            check_may_manage(self.request.user, self.reseller)
        return True

    @cached_property
    def reseller(self):
        return reseller_for_wallet(self.request.user, self.kwargs["pk"])

    @cached_property
    def wallet(self) -> Wallet:
        return services.wallet_of(reseller=self.reseller)

    def get_context_data(self, **kwargs):
        return super().get_context_data(reseller=self.reseller, wallet=self.wallet, **kwargs)

    def back(self):
        return redirect("wallets:wallet-detail", pk=self.reseller.pk)


class WalletDetailView(WalletMixin, TemplateView):
    template_name = "wallets/wallet_detail.html"
    http_method_names = READ_ONLY

    def get_context_data(self, **kwargs):
        user = self.request.user
        manage = may_manage(user, self.reseller)
        return super().get_context_data(
            recent=self.wallet.entries.select_related("created_by").order_by("-pk")[:10]
            if self.wallet.pk
            else [],
            series_discounts=SeriesDiscount.objects.filter(reseller=self.reseller)
            .select_related("series")
            .order_by("series__code"),
            can_configure=manage and user.has_perm("wallets.change_wallet"),
            can_post=manage and user.has_perm("wallets.add_walletentry"),
            pending=services.pending_requests(reseller=self.reseller),
            **kwargs,
        )


class WalletSettingsView(ServiceFormMixin, WalletMixin, FormView):
    permission_required = ("wallets.view_wallet", "wallets.change_wallet")
    manages = True
    template_name = "wallets/wallet_settings.html"
    form_class = WalletSettingsForm

    def get_initial(self):
        wallet = self.wallet
        return {
            "billing_mode": wallet.billing_mode,
            "discount": wallet.discount,
            "credit_limit": wallet.credit_limit,
        }

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            series_form=SeriesDiscountForm(user=self.request.user, reseller=self.reseller),
            series_discounts=SeriesDiscount.objects.filter(reseller=self.reseller)
            .select_related("series")
            .order_by("series__code"),
            **kwargs,
        )

    def perform(self, data):
        services.wallet_configure(actor=self.request.user, reseller=self.reseller, **data)
        messages.success(
            self.request, _("Wallet settings of %(reseller)s saved.") % {"reseller": self.reseller}
        )
        return self.back()


class SeriesDiscountView(ServiceFormMixin, WalletMixin, FormView):
    """POST from the settings page: one series' discount set, changed or removed."""

    permission_required = ("wallets.view_wallet", "wallets.change_wallet")
    manages = True
    template_name = "wallets/wallet_settings.html"
    form_class = SeriesDiscountForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "reseller": self.reseller}

    def get(self, request, *args, **kwargs):
        return redirect("wallets:wallet-settings", pk=self.reseller.pk)

    def get_context_data(self, **kwargs):
        wallet = self.wallet
        return super().get_context_data(
            series_form=kwargs.pop("form"),
            form=WalletSettingsForm(
                initial={
                    "billing_mode": wallet.billing_mode,
                    "discount": wallet.discount,
                    "credit_limit": wallet.credit_limit,
                }
            ),
            series_discounts=SeriesDiscount.objects.filter(reseller=self.reseller)
            .select_related("series")
            .order_by("series__code"),
            **kwargs,
        )

    def perform(self, data):
        services.series_discount_set(actor=self.request.user, reseller=self.reseller, **data)
        messages.success(
            self.request,
            _("Discount for series %(code)s saved.") % {"code": data["series"].code},
        )
        return redirect("wallets:wallet-settings", pk=self.reseller.pk)


class WalletMoneyView(ServiceFormMixin, WalletMixin, FormView):
    """A top-up or an adjustment by the parent, with a note; above the four-eyes setting it
    waits for another person's approval."""

    permission_required = ("wallets.view_wallet", "wallets.add_walletentry")
    manages = True
    template_name = "wallets/wallet_money.html"
    form_class = WalletMoneyForm

    def form_valid(self, form):
        try:
            return self.perform_signed(form)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)

    def perform_signed(self, form):
        data = form.cleaned_data
        outcome = services.wallet_money(
            actor=self.request.user,
            reseller=self.reseller,
            kind=data["kind"],
            amount=form.signed_amount(),
            note=data["note"],
        )
        currency = self.wallet.currency
        if outcome.pending:
            messages.warning(
                self.request,
                _(
                    "Four eyes: %(amount)s is above %(limit)s, so another person must approve "
                    "it. It waits on the approvals page."
                )
                % {
                    "amount": money(abs(outcome.amount), currency),
                    "limit": money(outcome.four_eyes_above, currency),
                },
            )
        else:
            messages.success(
                self.request,
                _("%(amount)s posted to the wallet of %(reseller)s. New balance: %(balance)s.")
                % {
                    "amount": money(outcome.amount, currency),
                    "reseller": self.reseller,
                    "balance": money(outcome.balance_after, currency),
                },
            )
        return self.back()


class StatementView(WalletMixin, TemplateView):
    """A period's statement as a page; `?format=csv` / the PDF route give the same rows."""

    template_name = "wallets/statement.html"
    http_method_names = READ_ONLY
    filter_form_class = StatementForm
    paginate_by = 100
    output = "html"

    def get(self, request, *args, **kwargs):
        form = StatementForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form, statement=None))
        start, end = form.period()
        statement = wallet_statement(self.wallet, start=start, end=end)
        if self.output == "csv":
            response = StreamingHttpResponse(
                statement_csv_lines(statement), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = (
                f'attachment; filename="{statement_filename(statement, "csv")}"'
            )
            return response
        if self.output == "pdf":
            if statement.count > PDF_ROWS:
                messages.error(
                    request,
                    _(
                        "A PDF holds at most %(rows)s rows: choose a shorter period, or "
                        "download the CSV."
                    )
                    % {"rows": PDF_ROWS},
                )
                return self.render_to_response(
                    self.get_context_data(form=form, statement=statement)
                )
            response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
            response["Content-Disposition"] = (
                f'attachment; filename="{statement_filename(statement, "pdf")}"'
            )
            return response
        return self.render_to_response(self.get_context_data(form=form, statement=statement))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        statement = context.get("statement")
        if statement is not None:
            page = Paginator(statement.rows(), self.paginate_by).get_page(
                self.request.GET.get("page")
            )
            context.update(page_obj=page, rows=page.object_list)
            query = self.request.GET.copy()
            query.pop("page", None)
            context["query"] = query.urlencode()
        return context


def statement_url(reseller, output: str) -> str:
    names = {
        "html": "wallet-statement",
        "csv": "wallet-statement-csv",
        "pdf": "wallet-statement-pdf",
    }
    return reverse(f"wallets:{names[output]}", args=[reseller.pk])
