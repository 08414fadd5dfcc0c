from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.views.generic import ListView, TemplateView

from resellers.scoping import is_staff_member

from .selectors import accounts_visible_to


class CustomerAccountMixin(LoginRequiredMixin):
    """Customer pages: the signed-in user's own account, nobody else's."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.account = accounts_visible_to(request.user).filter(user=request.user).first()
            if self.account is None:
                raise Http404("No customer account belongs to this user.")
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


class AccountListView(LoginRequiredMixin, ListView):
    """Staff: the customer accounts of their reseller subtree."""

    template_name = "billing/account_list.html"
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not (
            is_staff_member(user) and user.has_perm("billing.view_account")
        ):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return accounts_visible_to(self.request.user).select_related("reseller", "user")
