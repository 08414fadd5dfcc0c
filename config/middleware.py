"""Response headers every page carries."""

from django.conf import settings
from django.http import Http404
from django.utils.cache import patch_cache_control
from django.views import defaults

# The pages load only the app's own CSS, JS and images: no inline script or style, no CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every response, and no caching of signed-in pages.

    Balances, card numbers and PINs must not stay in a browser's (or a shared proxy's) cache
    after logout, so every response to a signed-in user is `Cache-Control: private, no-store`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response


class StyledNotFoundMiddleware:
    """The site's own 404 page with DEBUG on too (the demo), not Django's technical page.

    With DEBUG on, Django answers a 404 with its debug page (the URL patterns, the reason),
    which a reseller opening another reseller's page should not meet, and which the CSP leaves
    unstyled anyway. With DEBUG off Django already renders templates/404.html: nothing changes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        if settings.DEBUG and response.status_code == 404 and html:
            return defaults.page_not_found(request, Http404())
        return response
