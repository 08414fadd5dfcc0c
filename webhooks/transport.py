"""The POST of one delivery, to an address the SSRF guard checked (no second lookup).

The name is resolved once (`ssrf.receiver_addresses`); the connection goes to one of the
checked addresses, while the request keeps the URL's own `Host` header and, for https, TLS
is negotiated with the host name (SNI) and the certificate verified for it. Redirects are not
followed: a 3xx is a failed try (it could lead past the check).
"""

import http.client
import socket
import ssl

from django.conf import settings

from .ssrf import receiver_addresses, receiver_port


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to `address`, speaking to `host` (its Host header)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def _socket(self) -> socket.socket:
        return socket.create_connection((self.address, self.port), self.timeout)

    def connect(self):
        self.sock = self._socket()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """The same over TLS: SNI and certificate verification for `host`, not the address."""

    default_port = http.client.HTTPS_PORT
    context_factory = staticmethod(ssl.create_default_context)

    def connect(self):
        sock = self._socket()
        self.sock = self.context_factory().wrap_socket(sock, server_hostname=self.host)


def http_post(url: str, body: bytes, headers: dict) -> int:
    """POST and return the status code; ValidationError when the URL may not receive (SSRF),
    OSError when unreachable (every checked address tried in turn)."""
    parts, addresses = receiver_addresses(url)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    error = None
    for address in addresses:
        connection = connection_class(
            parts.hostname, receiver_port(parts), address=address, timeout=settings.WEBHOOKS_TIMEOUT
        )
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            error = exc
            continue
        try:
            connection.request(
                "POST",
                target,
                body=body,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "User-Agent": "topup-webhooks",
                },
            )
            return connection.getresponse().status
        finally:
            connection.close()
    raise error
