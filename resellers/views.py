import io
from base64 import b32encode

import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.generic import FormView, ListView, TemplateView
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from locales.formats import number

from . import services
from .context_processors import navigation
from .figures import figures
from .forms import (
    ResellerCreateForm,
    ResellerMoveForm,
    ResellerRenameForm,
    StaffUserForm,
    ThemeForm,
    TwoFactorCodeForm,
)
from .middleware import SESSION_HAS_DEVICE, two_factor_required
from .mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin, add_service_errors
from .models import Reseller, User
from .scoping import is_staff_member
from .selectors import reseller_tree, staff_users_visible_to, subtree_summary


@login_required
def home(request):
    """Send each user to the first page its rights open, never to a 403.

    A customer who may redeem lands on Payment Gateways; anyone else on the first page of
    the navigation (staff: the dashboard with the card-view right); with none, its password.
    """
    user = request.user
    if not is_staff_member(user) and user.has_perm("topup.redeem_card"):
        return redirect("topup:payment-gateways")
    items = navigation(request)["nav_items"]
    if items:
        return redirect(items[0]["url"])
    return redirect("password_change")


class ThemeSetView(LoginRequiredMixin, View):
    """POST from the header: the signed-in user's colour theme, then back to the page it was on."""

    def post(self, request):
        form = ThemeForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest(_("Unknown theme."))
        services.user_set_theme(user=request.user, theme=form.cleaned_data["theme"])
        target = form.cleaned_data["next"]
        # Only a path of this site (the header sends request.get_full_path()).
        if not target.startswith("/") or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("home")
        return HttpResponseRedirect(target)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Choosing one's own password; clears the must-change flag of a temporary password."""

    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        User.objects.filter(pk=self.request.user.pk).update(must_change_password=False)
        messages.success(self.request, _("Your password has been changed."))
        return response


class TwoFactorMixin(LoginRequiredMixin):
    """The signed-in user's authenticator (django-otp TOTP device) and where to go after."""

    template_name = "registration/two_factor.html"
    form_class = TwoFactorCodeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "device": self.device}

    def next_url(self) -> str:
        url = self.request.POST.get("next") or self.request.GET.get("next", "")
        if url_has_allowed_host_and_scheme(
            url, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            return url
        return reverse("home")

    def get_context_data(self, **kwargs):
        return super().get_context_data(next=self.next_url(), **kwargs)

    def signed_in(self):
        otp_login(self.request, self.device)
        self.request.session[SESSION_HAS_DEVICE] = True
        return redirect(self.next_url())


class TwoFactorSetupView(TwoFactorMixin, FormView):
    """Turning on two-factor sign-in: scan the QR code (or type the key), confirm with a code."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and user_has_device(request.user, confirmed=True):
            if not request.user.is_verified():  # confirmed in another session since sign-in
                request.session[SESSION_HAS_DEVICE] = True
                return redirect(reverse("two_factor_verify") + "?" + request.GET.urlencode())
            return render(request, self.template_name, {"active": True})
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def device(self):
        user = self.request.user
        return TOTPDevice.objects.filter(user=user, confirmed=False).first() or (
            TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
        )

    def get_context_data(self, **kwargs):
        key = b32encode(self.device.bin_key).decode()
        return super().get_context_data(
            setup=True,
            required=two_factor_required(self.request.user),
            secret=" ".join(key[i : i + 4] for i in range(0, len(key), 4)),
            **kwargs,
        )

    def form_valid(self, form):
        self.device.confirmed = True
        self.device.save(update_fields=["confirmed"])
        messages.success(self.request, _("Two-factor sign-in is on for your account."))
        return self.signed_in()


class TwoFactorVerifyView(TwoFactorMixin, FormView):
    """The second step of signing in: the current code of the user's authenticator app."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and self.device is None:
            request.session[SESSION_HAS_DEVICE] = False  # removed by an operator meanwhile
            return redirect("home")
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def device(self):
        return TOTPDevice.objects.filter(user=self.request.user, confirmed=True).first()

    def form_valid(self, form):
        return self.signed_in()


@login_required
def two_factor_qr(request):
    """The setup page's QR code (an SVG image: the page's CSP allows no data: images)."""
    device = get_object_or_404(TOTPDevice, user=request.user, confirmed=False)
    buffer = io.BytesIO()
    segno.make(device.config_url, error="m").save(buffer, kind="svg", scale=5, border=2)
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")


class SectionMixin(RightRequiredMixin, StaffRequiredMixin):
    """Pages of the Resellers section: a right, and only the user's subtree."""

    @cached_property
    def reseller(self):
        return get_object_or_404(
            Reseller.objects.visible_to(self.request.user), pk=self.kwargs["pk"]
        )


class ResellerListView(SectionMixin, TemplateView):
    permission_required = "resellers.view_reseller"
    template_name = "resellers/reseller_list.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            rows=reseller_tree(user),
            figure_labels=[figure.label for figure in figures()],
            can_add=user.has_perm("resellers.add_reseller"),
            can_see_users=user.has_perm("resellers.view_user"),
            **kwargs,
        )


class ResellerCreateView(ServiceFormMixin, SectionMixin, FormView):
    permission_required = "resellers.add_reseller"
    template_name = "resellers/reseller_form.html"
    form_class = ResellerCreateForm
    extra_context = {
        "title": gettext_lazy("Add a company"),
        "button": gettext_lazy("Add company"),
        "cancel_url": reverse_lazy("resellers:reseller-list"),
    }

    def perform(self, data):
        reseller = services.reseller_create(actor=self.request.user, **data)
        messages.success(
            self.request,
            _("%(company)s added under %(parent)s.")
            % {"company": reseller, "parent": reseller.parent},
        )
        return redirect("resellers:reseller-detail", pk=reseller.pk)


class ResellerDetailView(SectionMixin, TemplateView):
    permission_required = "resellers.view_reseller"
    template_name = "resellers/reseller_detail.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            reseller=self.reseller,
            summary=subtree_summary(self.reseller),
            users=staff_users_visible_to(user).filter(reseller=self.reseller),
            can_change=user.has_perm("resellers.change_reseller"),
            can_add_user=user.has_perm("resellers.add_user"),
            rename_form=ResellerRenameForm(user=user, initial={"name": self.reseller.name}),
            **kwargs,
        )


class ResellerRenameView(ServiceFormMixin, SectionMixin, FormView):
    permission_required = "resellers.change_reseller"
    template_name = "resellers/reseller_form.html"
    form_class = ResellerRenameForm

    def get_initial(self):
        return {"name": self.reseller.name}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            title=_("Rename %(company)s") % {"company": self.reseller},
            button=_("Rename"),
            cancel_url=reverse("resellers:reseller-detail", args=[self.reseller.pk]),
            **kwargs,
        )

    def perform(self, data):
        services.reseller_rename(actor=self.request.user, reseller=self.reseller, **data)
        messages.success(self.request, _("Renamed to %(name)s.") % {"name": self.reseller})
        return redirect("resellers:reseller-detail", pk=self.reseller.pk)


class ResellerActiveView(SectionMixin, View):
    """POST: deactivate or reactivate a company."""

    permission_required = "resellers.change_reseller"

    def post(self, request, pk):
        active = request.POST.get("active") == "1"
        try:
            services.reseller_set_active(actor=request.user, reseller=self.reseller, active=active)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            text = _("%(company)s reactivated.") if active else _("%(company)s deactivated.")
            messages.success(request, text % {"company": self.reseller})
        return redirect("resellers:reseller-detail", pk=pk)


class ResellerMoveView(SectionMixin, FormView):
    """Choose the new parent, see what moves, confirm: only then does anything change."""

    permission_required = "resellers.change_reseller"
    template_name = "resellers/reseller_move.html"
    form_class = ResellerMoveForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "reseller": self.reseller}

    def get_context_data(self, **kwargs):
        return super().get_context_data(reseller=self.reseller, **kwargs)

    def form_valid(self, form):
        new_parent = form.cleaned_data["parent"]
        errors = services.move_errors(
            actor=self.request.user, reseller=self.reseller, new_parent=new_parent
        )
        if errors:
            add_service_errors(form, ValidationError(errors))
            return self.form_invalid(form)
        if not form.cleaned_data["confirm"]:
            return render(
                self.request,
                "resellers/reseller_move_confirm.html",
                {
                    "reseller": self.reseller,
                    "new_parent": new_parent,
                    "summary": subtree_summary(self.reseller),
                },
            )
        try:
            moved = services.reseller_move(
                actor=self.request.user, reseller=self.reseller, new_parent=new_parent
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            ngettext(
                "%(company)s moved under %(new_parent)s (%(count)s company).",
                "%(company)s moved under %(new_parent)s (%(count)s companies).",
                moved,
            )
            % {"company": self.reseller, "new_parent": new_parent, "count": number(moved)},
        )
        return redirect("resellers:reseller-detail", pk=self.reseller.pk)


class StaffUserListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    permission_required = "resellers.view_user"
    template_name = "resellers/user_list.html"
    paginate_by = 50

    def get_queryset(self):
        return staff_users_visible_to(self.request.user)

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            can_add=user.has_perm("resellers.add_user"),
            can_change=user.has_perm("resellers.change_user"),
            **kwargs,
        )


class StaffUserCreateView(ServiceFormMixin, RightRequiredMixin, StaffRequiredMixin, FormView):
    permission_required = "resellers.add_user"
    template_name = "resellers/reseller_form.html"
    extra_context = {
        "title": gettext_lazy("Add a staff user"),
        "button": gettext_lazy("Add user"),
        "cancel_url": reverse_lazy("resellers:user-list"),
    }
    form_class = StaffUserForm

    def get_initial(self):
        reseller = self.request.GET.get("reseller", "")
        return {"reseller": int(reseller)} if reseller.isdigit() else {}

    def perform(self, data):
        user, password = services.staff_user_create(actor=self.request.user, **data)
        # The temporary password is shown on this response only; it is never stored in clear.
        response = render(
            self.request, "resellers/user_created.html", {"new_user": user, "password": password}
        )
        response["Cache-Control"] = "no-store"
        return response


class StaffUserActiveView(RightRequiredMixin, StaffRequiredMixin, View):
    """POST: deactivate or reactivate a staff user."""

    permission_required = "resellers.change_user"

    def post(self, request, pk):
        user = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
        active = request.POST.get("active") == "1"
        try:
            services.user_set_active(actor=request.user, user=user, active=active)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            text = (
                _("%(username)s can sign in again.")
                if active
                else _("%(username)s can no longer sign in.")
            )
            messages.success(request, text % {"username": user.username})
        return redirect(reverse("resellers:user-list"))


class StaffUserPasswordResetView(RightRequiredMixin, StaffRequiredMixin, View):
    """POST: a new temporary password, shown once on the answer."""

    permission_required = "resellers.change_user"

    def post(self, request, pk):
        user = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
        try:
            password = services.user_password_reset(actor=request.user, user=user)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return redirect(reverse("resellers:user-list"))
        response = render(
            request,
            "resellers/user_created.html",
            {"new_user": user, "password": password, "reset": True},
        )
        response["Cache-Control"] = "no-store"
        return response
