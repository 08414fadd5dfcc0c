"""The WSGI application: the panel, and the redemption API with its own, shorter chain.

Gateways call the API far more often than people open pages, and the API needs none of the
pages' sessions, CSRF, sign-in, two-factor, messages or login throttle (every call brings its
key). `settings.API_MIDDLEWARE` serves paths under `settings.API_PREFIX`: about 0.23 ms less
of a worker's Python time per credit, of 1.2 to 1.4 ms (measured in-process, see
docs/benchmarks.md).
"""

import os
from contextlib import contextmanager
from importlib import import_module

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

from config import metrics
from config.health import PATHS, health_app

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
panel = get_wsgi_application()


@contextmanager
def _middleware(chain: list[str]):
    """`settings.MIDDLEWARE` as `chain` while a handler loads it (once, at start-up)."""
    saved = settings.MIDDLEWARE
    settings.MIDDLEWARE = chain
    try:
        yield
    finally:
        settings.MIDDLEWARE = saved


class ApiHandler(WSGIHandler):
    def load_middleware(self, is_async=False):
        with _middleware(settings.API_MIDDLEWARE):
            super().load_middleware(is_async)


api = ApiHandler()


def application(environ, start_response):
    if environ.get("PATH_INFO", "") in PATHS:  # probes: before any middleware (config/health.py)
        return health_app(environ, start_response)
    if environ.get("PATH_INFO", "") == metrics.PATH:  # scrapers: token or network only
        return metrics.metrics_app(environ, start_response)
    if environ.get("PATH_INFO", "").startswith(settings.API_PREFIX):
        return api(environ, start_response)
    return panel(environ, start_response)


# Import the URLconf (and the views and API schemas behind it) while the worker starts,
# rather than during the first request it serves.
import_module(settings.ROOT_URLCONF)
