"""Two-factor sign-in pages: turning on an authenticator app (django-otp TOTP) and the second
step of signing in."""

import io
from base64 import b32encode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.generic import FormView
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from .forms import TwoFactorCodeForm
from .middleware import SESSION_HAS_DEVICE, two_factor_required


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
