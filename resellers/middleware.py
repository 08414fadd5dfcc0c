from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import user_has_device


class MustChangePasswordMiddleware:
    """A user holding a temporary password sees nothing but the password change page until
    it has chosen its own (it may still log out)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.must_change_password:
            allowed = (reverse("password_change"), reverse("logout"))
            if request.path not in allowed:
                return redirect("password_change")
        return self.get_response(request)


# Holders of any of these rights can read PINs or destroy cards: in production they sign in
# with a second factor (settings.OTP_REQUIRED_FOR_CARD_SECRETS).
CARD_SECRET_RIGHTS = ("topup.reveal_pin", "topup.delete_card")
# Set at sign-in when the user has a confirmed authenticator: it must then verify a code.
SESSION_HAS_DEVICE = "two_factor_device"


@receiver(user_logged_in)
def _note_device_at_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_HAS_DEVICE] = user_has_device(user, confirmed=True)


def two_factor_required(user) -> bool:
    """Whether the signed-in user must set up an authenticator before anything else."""
    return settings.OTP_REQUIRED_FOR_CARD_SECRETS and any(
        user.has_perm(right) for right in CARD_SECRET_RIGHTS
    )


def confined(request) -> bool:
    """Whether the signed-in user may open only the password, two-factor and log-out pages
    for now (a temporary password, or a second factor to set up or verify): its pages then
    show no navigation, whose every link would lead back here."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if user.must_change_password:
        return True
    verified = getattr(user, "is_verified", lambda: True)()
    session = getattr(request, "session", {})
    return not verified and (bool(session.get(SESSION_HAS_DEVICE)) or two_factor_required(user))


class TwoFactorMiddleware:
    """A user who has an authenticator (or must have one) sees nothing but the verify or the
    setup page until it has entered a code in this session (it may still change its password
    and log out). Runs after django-otp's OTPMiddleware, which sets `user.is_verified()`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not self._exempt(request.path)
        ):
            if request.session.get(SESSION_HAS_DEVICE):
                return self._redirect("two_factor_verify", request)
            if two_factor_required(user):
                return self._redirect("two_factor_setup", request)
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        allowed = (
            reverse("two_factor_setup"),
            reverse("two_factor_verify"),
            reverse("two_factor_qr"),
            reverse("password_change"),
            reverse("logout"),
        )
        return path in allowed or path.startswith(settings.STATIC_URL)

    @staticmethod
    def _redirect(name: str, request):
        url = reverse(name)
        if request.method == "GET":
            url += "?" + urlencode({"next": request.get_full_path()})
        return redirect(url)
