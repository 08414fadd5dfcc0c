from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView

from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin

from . import services
from .forms import SubscriptionCreateForm
from .selectors import deliveries_of, subscriptions_visible_to


class SubscriptionListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    permission_required = "webhooks.view_subscription"
    template_name = "webhooks/subscription_list.html"
    paginate_by = 50

    def get_queryset(self):
        return subscriptions_visible_to(self.request.user).select_related("reseller")

    def get_context_data(self, **kwargs):
        can_manage = self.request.user.has_perm("webhooks.manage_webhooks")
        return super().get_context_data(can_manage=can_manage, **kwargs)


class SubscriptionCreateView(ServiceFormMixin, RightRequiredMixin, StaffRequiredMixin, FormView):
    """Create a subscription; the page that answers shows its secret, this once."""

    permission_required = ("webhooks.view_subscription", "webhooks.manage_webhooks")
    template_name = "webhooks/subscription_create.html"
    form_class = SubscriptionCreateForm

    def perform(self, data):
        subscription, secret = services.subscription_create(
            user=self.request.user,
            reseller=data["reseller"],
            url=data["url"],
            events=data["events"],
        )
        return self.secret_page(
            "webhooks/subscription_created.html", {"subscription": subscription, "secret": secret}
        )


class _SubscriptionMixin:
    @cached_property
    def subscription(self):
        found = subscriptions_visible_to(self.request.user).filter(pk=self.kwargs["pk"]).first()
        if found is None:
            raise Http404(_("No such subscription in your part of the tree."))
        return found


class DeliveryListView(_SubscriptionMixin, RightRequiredMixin, StaffRequiredMixin, ListView):
    """A subscription's delivery log, with replay."""

    permission_required = "webhooks.view_subscription"
    template_name = "webhooks/delivery_list.html"
    paginate_by = 50

    def get_queryset(self):
        return deliveries_of(self.subscription)

    def get_context_data(self, **kwargs):
        can_manage = self.request.user.has_perm("webhooks.manage_webhooks")
        return super().get_context_data(
            subscription=self.subscription, can_manage=can_manage, **kwargs
        )


class DeliveryReplayView(_SubscriptionMixin, RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = ("webhooks.view_subscription", "webhooks.manage_webhooks")

    def post(self, request, pk, delivery):
        found = deliveries_of(self.subscription).filter(pk=delivery).first()
        if found is None:
            raise Http404(_("No such delivery."))
        services.delivery_replay(user=request.user, delivery=found)
        messages.success(request, _("Delivery %(id)s is queued again.") % {"id": found.message_id})
        return redirect("webhooks:delivery-list", pk=self.subscription.pk)
