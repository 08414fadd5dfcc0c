"""Which address a request comes from, as the lockouts count it.

Forwarded headers are believed only when the peer (REMOTE_ADDR) is one of TRUSTED_PROXIES;
then X-Forwarded-For is read from the right, past every trusted proxy, to the first address
that is not one. Anything that is not a well-formed IP address stops the walk: the last
address known to be true is used (at worst the peer itself), never the junk.

IPv6 clients get a whole /64 from their provider and can change addresses within it at will,
so the lockout counts them per /64 (`address_key`); the attempt log keeps the full address.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN = "0.0.0.0"  # noqa: S104 - a value, not a bind
IPV6_PREFIX = 64


def parse_address(value: str) -> IPAddress | None:
    """A well-formed IP address, or None. IPv4-mapped IPv6 addresses become IPv4."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def is_trusted_proxy(address: IPAddress) -> bool:
    return any(address in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request) -> str:
    """The client's address: the peer's, or the one the trusted proxies vouch for (worked out
    once per request)."""
    if (known := getattr(request, "_client_address", None)) is None:
        known = request._client_address = _client_address(request)
    return known


def _client_address(request) -> str:
    client = parse_address(request.META.get("REMOTE_ADDR", ""))
    if client is None:
        return UNKNOWN
    if not is_trusted_proxy(client):
        return str(client)
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        address = parse_address(hop)
        if address is None:
            break
        client = address
        if not is_trusted_proxy(address):
            break
    return str(client)


def address_key(address: str) -> str:
    """What the lockout counts: an IPv4 address itself, an IPv6 address's /64 network."""
    parsed = parse_address(address)
    if parsed is None:
        raise ValueError(f"not an IP address: {address!r}")
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def lockout_key(value: str) -> str | None:
    """The lockout key named by an address or by a key as shown (a /64); None if neither."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
    if network.prefixlen == network.max_prefixlen:
        return address_key(str(network.network_address))
    if network.version == 6 and network.prefixlen == IPV6_PREFIX:
        return str(network)
    return None
