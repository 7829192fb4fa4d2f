"""Address allowlists: the networks a signing key may be used from."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["Network", "address_allowed"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def address_allowed(networks: Sequence[Network], address: str | None) -> bool:
    """True when ``address`` is in one of ``networks``; an empty list allows any address,
    and an unknown or malformed address is allowed only by an empty list."""
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in net for net in networks)
