"""Operators' e-PIN products: list, create, edit (scoped to their part of the tree)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.generic import FormView, ListView

from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin

from .. import services
from ..epin_forms import EpinProductForm
from ..models import EpinProduct


class EpinProductListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    """The products the keys of the user's part of the tree sell."""

    permission_required = "topup.view_epinproduct"
    template_name = "topup/epinproduct_list.html"
    paginate_by = 50

    def get_queryset(self):
        return (
            EpinProduct.objects.visible_to(self.request.user)
            .select_related("reseller")
            .order_by("code")
        )

    def get_context_data(self, **kwargs):
        can_add = self.request.user.has_perm("topup.add_epinproduct")
        can_change = self.request.user.has_perm("topup.change_epinproduct")
        return super().get_context_data(can_add=can_add, can_change=can_change, **kwargs)


class EpinProductCreateView(ServiceFormMixin, RightRequiredMixin, StaffRequiredMixin, FormView):
    permission_required = ("topup.view_epinproduct", "topup.add_epinproduct")
    template_name = "topup/epinproduct_form.html"
    form_class = EpinProductForm
    product = None

    def perform(self, data):
        product = services.epin_product_save(user=self.request.user, data=data)
        messages.success(
            self.request, _("E-PIN product “%(code)s” is created.") % {"code": product.code}
        )
        return redirect("topup:epinproduct-list")


class EpinProductEditView(EpinProductCreateView):
    permission_required = ("topup.view_epinproduct", "topup.change_epinproduct")

    @cached_property
    def product(self):
        product = (
            EpinProduct.objects.visible_to(self.request.user).filter(pk=self.kwargs["pk"]).first()
        )
        if product is None:
            raise Http404(_("No such e-PIN product in your part of the tree."))
        return product

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "product": self.product}

    def get_context_data(self, **kwargs):
        return super().get_context_data(product=self.product, **kwargs)

    def perform(self, data):
        product = services.epin_product_save(
            user=self.request.user, product=self.product, data=data
        )
        messages.success(
            self.request, _("E-PIN product “%(code)s” is saved.") % {"code": product.code}
        )
        return redirect("topup:epinproduct-list")
