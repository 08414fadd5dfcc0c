"""Sign-in throttling with django-axes, counted in the database so it holds across servers.

Failures are counted per client address (from `config.client_address`, so a forged
X-Forwarded-For gains nothing) and per username; at LOGIN_FAILURE_LIMIT of either within
LOGIN_LOCKOUT_SECONDS the sign-in answers 429 with the site's "too many attempts" page and a
Retry-After, whatever the password. Operators see and lift lockouts in the admin
(Axes > Access attempts: deleting the attempt lifts it).
"""

import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.shortcuts import render


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' check before the password backends.

    Authentication without a request (the shell, the test client's `login`) is not a sign-in
    over HTTP and has nothing to throttle: it is passed on to the next backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request, original_response=None, credentials=None):
    """The 429 page of the site, with how long to wait."""
    cool_off = get_cool_off(request)
    seconds = math.ceil(cool_off.total_seconds()) if cool_off else 0
    response = render(
        request,
        "429.html",
        {"retry_after_minutes": math.ceil(seconds / 60) if seconds else None},
        status=429,
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
