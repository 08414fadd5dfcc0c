"""Refusing receiver URLs that point at the server's own networks (SSRF).

A URL's host is resolved and every address must be a public one, unless it lies in one of the
networks of WEBHOOKS_ALLOWED_NETWORKS (tests and a demo allow 127.0.0.1). Checked when a
subscription is saved and again before every delivery (a name may resolve elsewhere later).

A delivery resolves the name once: `receiver_addresses` returns the addresses it checked and
the transport (`delivery.http_post`) connects to one of those, never resolving again, so a
name that answers a public address to the check and a private one to the connection (DNS
rebinding) cannot reach the server's own network.
"""

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class Resolver:
    """The name lookup, a seam for tests (a stub that answers differently each time)."""

    getaddrinfo = staticmethod(socket.getaddrinfo)

    def addresses(self, host: str, port: int) -> list[str]:
        infos = self.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(info[4][0].split("%")[0] for info in infos))


resolver = Resolver()


def _allowed(ip) -> bool:
    for network in settings.WEBHOOKS_ALLOWED_NETWORKS:
        if ip in ipaddress.ip_network(network, strict=False):
            return True
    return ip.is_global and not ip.is_multicast


def receiver_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def receiver_addresses(url: str) -> tuple[SplitResult, list[str]]:
    """The URL's parts and every address its host resolves to, each one checked; a
    ValidationError unless `url` is http(s) and all of them are public or explicitly allowed."""
    parts = urlsplit(url)
    try:
        port = receiver_port(parts)
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise ValidationError(_("Enter an http:// or https:// URL."))
    try:
        addresses = resolver.addresses(parts.hostname, port)
    except (OSError, UnicodeError):
        raise ValidationError(_("The receiver's host name does not resolve.")) from None
    if not addresses:
        raise ValidationError(_("The receiver's host name does not resolve."))
    for address in addresses:
        if not _allowed(ipaddress.ip_address(address)):
            raise ValidationError(
                _("The receiver's address is in a private, loopback or link-local network.")
            )
    return parts, addresses


def check_receiver_url(url: str) -> None:
    """ValidationError unless the URL may receive deliveries (see `receiver_addresses`)."""
    receiver_addresses(url)
