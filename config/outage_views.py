"""The answer to a request cut off by a database outage: 503 with Retry-After, never 500.

Django calls `server_error` (handler500) for any uncaught exception, from a view or a
middleware, while the exception is being handled. An outage (`config.db_faults.outage`: a lost
connection, a failover, a statement timeout) gets the styled 503 page or, under the API, its
JSON error body; anything else keeps Django's 500. A redemption (the Payment Gateways page,
the API's POST /redemptions) cut off that way may have committed: its answer says so ("could
not confirm") rather than "try again", and the redemption service has logged the attempt as
unconfirmed (`redemption_error_record`), so support sees it.
"""

import sys

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext, gettext_noop
from django.views import defaults

from .db_faults import drop_broken_connections, outage

REDEMPTION_PAGES = {"topup:payment-gateways", "topup:support-redeem"}
API_REDEMPTIONS = "redemptions"
# Marked for the catalog; translated when answered (the 503 page carries it in its template).
UNCONFIRMED = gettext_noop(
    "We could not confirm this top-up; check your balance before trying again."
)


def _is_redemption(request) -> bool:
    if request.method != "POST":
        return False
    if request.path.startswith(settings.API_PREFIX):
        return request.path.rstrip("/").endswith(API_REDEMPTIONS)
    match = getattr(request, "resolver_match", None)
    return match is not None and match.view_name in REDEMPTION_PAGES


def server_error(request, template_name="500.html"):
    """handler500: 503 for a database outage (see the module docstring), else Django's 500."""
    error = sys.exc_info()[1]
    if error is None or outage(error) is None:
        return defaults.server_error(request, template_name)
    drop_broken_connections()  # the next request starts on a new connection
    retry_after = settings.DB_OUTAGE_RETRY_AFTER
    unconfirmed = _is_redemption(request)
    if request.path.startswith(settings.API_PREFIX):
        body = (
            {"status": "unconfirmed", "message": gettext(UNCONFIRMED)}
            if unconfirmed
            else {"status": "unavailable", "retry_after": retry_after}
        )
        response = JsonResponse(body, status=503)
    else:
        # No request context: the database (session, user, menus) is not there to ask.
        context = {"unconfirmed": unconfirmed, "retry_after": retry_after}
        response = render(None, "503.html", context, status=503)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response
