from django.shortcuts import redirect
from django.urls import reverse


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
