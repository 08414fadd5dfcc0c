from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from locales.formats import money
from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin

from . import services
from .forms import AccountAdjustForm, AccountOpenForm, AccountSearchForm
from .models import Account

# Apps above billing add sections to the staff's account page (topup: the account's
# redemption attempts) without billing depending on them: each is a function
# (request, account) -> HTML, registered from the app's `AppConfig.ready`.
account_page_sections: list[Callable] = []


class CustomerAccountMixin(LoginRequiredMixin):
    """Customer pages: the signed-in user's own account, nobody else's."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.account = (
                Account.objects.visible_to(request.user).filter(user=request.user).first()
            )
            if self.account is None:
                raise Http404(_("No customer account belongs to this user."))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(account=self.account, **kwargs)


class BalanceView(CustomerAccountMixin, TemplateView):
    template_name = "billing/balance.html"

    def get_context_data(self, **kwargs):
        recent = self.account.transactions.all()[:5]
        return super().get_context_data(recent_transactions=recent, **kwargs)


class TransactionListView(CustomerAccountMixin, ListView):
    template_name = "billing/transaction_list.html"
    paginate_by = 25

    def get_queryset(self):
        return self.account.transactions.all()


class CustomersMixin(RightRequiredMixin, StaffRequiredMixin):
    """Pages of the Customers section: a right, and only the accounts of the user's subtree."""

    @cached_property
    def account(self):
        return get_object_or_404(
            Account.objects.visible_to(self.request.user).select_related("reseller", "user"),
            pk=self.kwargs["pk"],
        )


class AccountListView(CustomersMixin, ListView):
    """Staff: the customer accounts of their reseller subtree, searchable."""

    permission_required = "billing.view_account"
    template_name = "billing/account_list.html"
    paginate_by = 50

    @cached_property
    def search(self) -> AccountSearchForm:
        return AccountSearchForm(self.request.GET or None)

    def get_queryset(self):
        accounts = Account.objects.visible_to(self.request.user).select_related("reseller", "user")
        if self.search.is_valid() and (q := self.search.cleaned_data["q"].strip()):
            match = Q(name__icontains=q) | Q(user__username__icontains=q)
            if q.isdigit():
                match |= Q(number__startswith=q)
            accounts = accounts.filter(match)
        return accounts

    def get_context_data(self, **kwargs):
        q = self.search.cleaned_data.get("q", "") if self.search.is_valid() else ""
        return super().get_context_data(
            search=self.search,
            query=urlencode({"q": q}) if q else "",
            can_add=self.request.user.has_perm("billing.add_account"),
            **kwargs,
        )


class AccountOpenView(ServiceFormMixin, CustomersMixin, FormView):
    permission_required = "billing.add_account"
    template_name = "billing/account_form.html"
    form_class = AccountOpenForm

    def perform(self, data):
        account, password = services.account_open(actor=self.request.user, **data)
        # The temporary password is shown on this response only; it is never stored in clear.
        response = render(
            self.request,
            "billing/account_opened.html",
            {"account": account, "password": password},
        )
        response["Cache-Control"] = "no-store"
        return response


class AccountDetailView(CustomersMixin, TemplateView):
    permission_required = "billing.view_account"
    template_name = "billing/account_detail.html"

    def get_context_data(self, **kwargs):
        user, account = self.request.user, self.account
        return super().get_context_data(
            account=account,
            transactions=account.transactions.select_related("created_by")[:50],
            can_redeem=services.account_can_redeem(account),
            sections=[section(self.request, account) for section in account_page_sections],
            can_change=user.has_perm("billing.change_account"),
            can_adjust=user.has_perm("billing.adjust_balance"),
            **kwargs,
        )


class AccountRedeemRightView(CustomersMixin, View):
    """POST: grant or revoke the redeem right of the account's login."""

    permission_required = "billing.change_account"

    def post(self, request, pk):
        allowed = request.POST.get("allowed") == "1"
        services.account_set_redeem_right(actor=request.user, account=self.account, allowed=allowed)
        text = (
            _("%(name)s may now redeem cards.")
            if allowed
            else _("%(name)s may no longer redeem cards.")
        )
        messages.success(request, text % {"name": self.account.name})
        return redirect("billing:account-detail", pk=pk)


class AccountAdjustView(ServiceFormMixin, CustomersMixin, FormView):
    permission_required = "billing.adjust_balance"
    template_name = "billing/account_form.html"
    form_class = AccountAdjustForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            account=self.account,
            title=_("Adjust the balance of %(name)s") % {"name": self.account.name},
            button=_("Post adjustment"),
            cancel_url=reverse("billing:account-detail", args=[self.account.pk]),
            **kwargs,
        )

    def perform(self, data):
        posting = services.account_adjust(actor=self.request.user, account=self.account, **data)
        messages.success(
            self.request,
            _("%(amount)s posted. New balance: %(balance)s.")
            % {
                "amount": ("+" if posting.amount > 0 else "")
                + money(posting.amount, self.account.currency),
                "balance": money(posting.balance_after, self.account.currency),
            },
        )
        return redirect("billing:account-detail", pk=self.account.pk)
