from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.generic import FormView, ListView, TemplateView

from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin

from . import services
from .forms import ApiKeyCreateForm
from .models import ApiKey


class ApiKeyListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    """Operators: the API keys of their part of the tree."""

    permission_required = "api.view_apikey"
    template_name = "api/apikey_list.html"
    paginate_by = 50

    def get_queryset(self):
        return ApiKey.objects.visible_to(self.request.user).select_related(
            "reseller", "created_by", "revoked_by"
        )

    def get_context_data(self, **kwargs):
        can_manage = self.request.user.has_perm("api.manage_api_keys")
        return super().get_context_data(can_manage=can_manage, **kwargs)


class ApiKeyCreateView(ServiceFormMixin, RightRequiredMixin, StaffRequiredMixin, FormView):
    """Create a key; the page that answers shows its token, this once."""

    permission_required = ("api.view_apikey", "api.manage_api_keys")
    template_name = "api/apikey_create.html"
    form_class = ApiKeyCreateForm

    def perform(self, data):
        key, token = services.api_key_create(
            user=self.request.user,
            name=data["name"],
            reseller=data["reseller"],
            networks=data["networks"],
            rights=data["rights"],
        )
        return self.secret_page("api/apikey_created.html", {"key": key, "token": token})


class ApiKeyRevokeView(RightRequiredMixin, StaffRequiredMixin, TemplateView):
    """Confirm (GET), then revoke (POST) one key of the user's part of the tree."""

    permission_required = ("api.view_apikey", "api.manage_api_keys")
    template_name = "api/apikey_revoke.html"

    @cached_property
    def key(self):
        key = ApiKey.objects.visible_to(self.request.user).filter(pk=self.kwargs["pk"]).first()
        if key is None:
            raise Http404(_("No such API key in your part of the tree."))
        return key

    def get_context_data(self, **kwargs):
        return super().get_context_data(key=self.key, **kwargs)

    def post(self, request, pk):
        if services.api_key_revoke(user=request.user, key=self.key):
            messages.success(request, _("API key “%(name)s” is revoked.") % {"name": self.key.name})
        else:
            messages.info(
                request, _("API key “%(name)s” was already revoked.") % {"name": self.key.name}
            )
        return redirect("api:key-list")
