"""The wallet pages of the Resellers section: a reseller's wallet, its settings and discounts,
top-ups and adjustments (four eyes above a setting), and its statements.

Scope and rights come from `access`: another reseller's wallet is a 404, one's own is
read-only, a parent manages its children's. Every change goes through `wallets.services`.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from locales.formats import money
from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin

from . import approvals, services
from .access import check_may_manage, may_manage, reseller_for_wallet
from .figures import stock_values
from .forms import SeriesDiscountForm, StatementForm, WalletMoneyForm, WalletSettingsForm
from .models import SeriesDiscount, Wallet, WalletRequest
from .printing import statement_csv_lines, statement_filename, statement_language, statement_pdf
from .statements import PDF_ROWS, wallet_statement

READ_ONLY = ["get", "head", "options"]


class WalletMixin(RightRequiredMixin, StaffRequiredMixin):
    """A page about the wallet of the reseller in the URL, in the user's scope."""

    permission_required = "wallets.view_wallet"
    manages = False  # pages that change the wallet: only for a parent of the reseller

    def has_permission(self):
        if not super().has_permission():
            return False
        if self.manages:
            check_may_manage(self.request.user, self.reseller)  # 404 out of scope, 403 own
        return True

    @cached_property
    def reseller(self):
        return reseller_for_wallet(self.request.user, self.kwargs["pk"])

    @cached_property
    def wallet(self) -> Wallet:
        """The reseller's wallet; unsaved (`pk` None) while the reseller is not billed."""
        return services.wallet_of(reseller=self.reseller)

    def series_discounts(self):
        return (
            SeriesDiscount.objects.filter(reseller=self.reseller)
            .select_related("series")
            .order_by("series__code", "series_id")
        )

    def get_context_data(self, **kwargs):
        return super().get_context_data(reseller=self.reseller, wallet=self.wallet, **kwargs)

    def back(self):
        return redirect("wallets:wallet-detail", pk=self.reseller.pk)


class WalletDetailView(WalletMixin, TemplateView):
    template_name = "wallets/wallet_detail.html"
    http_method_names = READ_ONLY

    def get_context_data(self, **kwargs):
        user, wallet = self.request.user, self.wallet
        manage = may_manage(user, self.reseller)
        return super().get_context_data(
            recent=wallet.entries.select_related("created_by").order_by("-pk")[:10]
            if wallet.pk
            else [],
            series_discounts=self.series_discounts(),
            can_configure=manage and user.has_perm("wallets.manage_wallet"),
            can_post=manage and wallet.pk is not None and user.has_perm("wallets.post_wallet"),
            pending=approvals.pending_for(self.reseller),
            stock_value=stock_values([self.reseller.pk]).get(self.reseller.pk, (0, ""))[0],
            **kwargs,
        )


def settings_initial(wallet: Wallet) -> dict:
    return {
        "billing_mode": wallet.billing_mode,
        "discount": wallet.discount,
        "credit_limit": wallet.credit_limit,
        "may_sell_below_cost": wallet.may_sell_below_cost,
    }


class WalletSettingsView(ServiceFormMixin, WalletMixin, FormView):
    """Billing mode, discount and credit limit; the first save starts billing the reseller."""

    permission_required = ("wallets.view_wallet", "wallets.manage_wallet")
    manages = True
    template_name = "wallets/wallet_settings.html"
    form_class = WalletSettingsForm

    def get_initial(self):
        return settings_initial(self.wallet)

    def get_context_data(self, **kwargs):
        kwargs.setdefault(
            "series_form", SeriesDiscountForm(user=self.request.user, reseller=self.reseller)
        )
        parent_wallet = Wallet.objects.filter(reseller_id=self.reseller.parent_id).first()
        return super().get_context_data(
            series_discounts=self.series_discounts(), parent_wallet=parent_wallet, **kwargs
        )

    def perform(self, data):
        services.wallet_configure(actor=self.request.user, reseller=self.reseller, **data)
        messages.success(
            self.request,
            _("Wallet settings of %(reseller)s saved.") % {"reseller": self.reseller.name},
        )
        return self.back()


class SeriesDiscountView(WalletSettingsView):
    """POST from the settings page: one series' discount set, changed or removed."""

    form_class = SeriesDiscountForm

    def get(self, request, *args, **kwargs):
        return redirect("wallets:wallet-settings", pk=self.reseller.pk)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "reseller": self.reseller}

    def get_initial(self):
        return {}

    def get_context_data(self, **kwargs):
        kwargs["series_form"] = kwargs.pop("form")
        kwargs["form"] = WalletSettingsForm(initial=settings_initial(self.wallet))
        return super().get_context_data(**kwargs)

    def perform(self, data):
        services.series_discount_set(actor=self.request.user, reseller=self.reseller, **data)
        messages.success(
            self.request, _("Discount for series %(code)s saved.") % {"code": data["series"].code}
        )
        return redirect("wallets:wallet-settings", pk=self.reseller.pk)


class WalletMoneyView(ServiceFormMixin, WalletMixin, FormView):
    """A top-up or an adjustment by the parent, with a note; above the four-eyes setting it
    waits for another person's approval (`approvals`)."""

    permission_required = ("wallets.view_wallet", "wallets.post_wallet")
    manages = True
    template_name = "wallets/wallet_money.html"
    form_class = WalletMoneyForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and self.has_permission() and self.wallet.pk is None:
            messages.error(request, _("Set up this company's billing before moving money."))
            return redirect("wallets:wallet-detail", pk=self.reseller.pk)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(four_eyes_above=approvals.four_eyes_above(), **kwargs)

    def perform(self, data):
        amount = data["amount"] if data["direction"] == "credit" else -data["amount"]
        outcome = approvals.wallet_money_request(
            actor=self.request.user,
            wallet=self.wallet,
            kind=data["kind"],
            amount=amount,
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
                    "amount": money(abs(amount), currency),
                    "limit": money(approvals.four_eyes_above(), currency),
                },
            )
        else:
            messages.success(
                self.request,
                _("%(amount)s posted to the wallet of %(reseller)s. New balance: %(balance)s.")
                % {
                    "amount": money(amount, currency),
                    "reseller": self.reseller.name,
                    "balance": money(outcome.entry.balance_after, currency),
                },
            )
        return self.back()


class StatementView(WalletMixin, TemplateView):
    """A period's statement as a page (paged), a CSV or a PDF: the same figures and rows."""

    template_name = "wallets/statement.html"
    http_method_names = READ_ONLY
    paginate_by = 100
    output = "html"

    def get(self, request, *args, **kwargs):
        form = StatementForm(request.GET or None)
        if self.wallet.pk is None or (form.is_bound and not form.is_valid()):
            return self.render_to_response(self.get_context_data(form=form, statement=None))
        start, end = form.period()
        with statement_language(self.reseller, request.user):
            statement = wallet_statement(self.wallet, start=start, end=end)
            if self.output == "csv":
                return self.csv(statement)
            if self.output == "pdf" and statement.count <= PDF_ROWS:
                return self.pdf(statement)
        if self.output == "pdf":
            messages.error(
                request,
                _("A PDF holds at most %(rows)s rows: choose a shorter period or download the CSV.")
                % {"rows": PDF_ROWS},
            )
        return self.render_to_response(self.get_context_data(form=form, statement=statement))

    def csv(self, statement):
        response = StreamingHttpResponse(
            statement_csv_lines(statement), content_type="text/csv; charset=utf-8"
        )
        name = statement_filename(statement, "csv")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def pdf(self, statement):
        response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
        name = statement_filename(statement, "pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        statement = context.get("statement")
        if statement is not None:
            page = Paginator(statement.rows(), self.paginate_by).get_page(
                self.request.GET.get("page")
            )
            query = self.request.GET.copy()
            query.pop("page", None)
            context.update(page_obj=page, rows=page.object_list, query=query.urlencode())
        return context


class ApprovalListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    """Top-ups and adjustments waiting for a second person, on wallets the user manages."""

    permission_required = ("wallets.view_wallet", "wallets.post_wallet")
    template_name = "wallets/approval_list.html"
    http_method_names = READ_ONLY
    paginate_by = 50

    def get_queryset(self):
        return approvals.requests_visible_to(self.request.user).filter(
            state=WalletRequest.State.PENDING
        )

    def get_context_data(self, **kwargs):
        decided = approvals.requests_visible_to(self.request.user).exclude(
            state=WalletRequest.State.PENDING
        )
        return super().get_context_data(decided=decided[:20], **kwargs)


class ApprovalDecideView(RightRequiredMixin, StaffRequiredMixin, View):
    """POST: approve (post the money) or reject one waiting request."""

    permission_required = ("wallets.view_wallet", "wallets.post_wallet")
    approve = True

    def post(self, request, pk):
        wallet_request = get_object_or_404(approvals.requests_visible_to(request.user), pk=pk)
        currency = wallet_request.wallet.currency
        try:
            if self.approve:
                entry = approvals.wallet_request_approve(actor=request.user, request=wallet_request)
            else:
                approvals.wallet_request_reject(actor=request.user, request=wallet_request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("wallets:approval-list")
        if self.approve:
            messages.success(
                request,
                _("%(amount)s posted to the wallet of %(reseller)s. New balance: %(balance)s.")
                % {
                    "amount": money(entry.amount, currency),
                    "reseller": wallet_request.wallet.reseller.name,
                    "balance": money(entry.balance_after, currency),
                },
            )
        else:
            messages.success(request, _("Request rejected: no money moved."))
        return redirect("wallets:approval-list")
