"""A request id on every log line of a request, for JSON logs (python-json-logger).

The id comes from nginx (`X-Request-ID: $request_id`, deploy/nginx/topup.conf) when the peer
is a trusted proxy, else it is made here; it is sent back in the response's X-Request-ID.
"""

import contextvars
import logging
import re
import secrets

from config.client_address import is_trusted_proxy, parse_address

_request_id = contextvars.ContextVar("request_id", default="-")
_WELL_FORMED = re.compile(r"^[A-Za-z0-9-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        peer = parse_address(request.META.get("REMOTE_ADDR", ""))
        trusted = peer is not None and is_trusted_proxy(peer) and _WELL_FORMED.match(given)
        token = _request_id.set(given if trusted else secrets.token_hex(16))
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = _request_id.get()
            return response
        finally:
            _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (\"-\" outside a request)."""

    def filter(self, record):
        record.request_id = _request_id.get()
        return True
