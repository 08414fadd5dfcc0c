"""Refusing receiver URLs that point at the server's own networks (SSRF).

A URL's host is resolved and every address must be a public one, unless it lies in one of the
networks of WEBHOOKS_ALLOWED_NETWORKS (tests and a demo allow 127.0.0.1). Checked when a
subscription is saved and again before every delivery (a name may resolve elsewhere later).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def _allowed(ip) -> bool:
    for network in settings.WEBHOOKS_ALLOWED_NETWORKS:
        if ip in ipaddress.ip_network(network, strict=False):
            return True
    return ip.is_global and not ip.is_multicast


def check_receiver_url(url: str) -> None:
    """ValidationError unless `url` is http(s) and every address its host resolves to is
    public or explicitly allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Enter an http:// or https:// URL."))
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationError(_("The receiver's host name does not resolve.")) from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not _allowed(ip):
            raise ValidationError(
                _("The receiver's address is in a private, loopback or link-local network.")
            )
