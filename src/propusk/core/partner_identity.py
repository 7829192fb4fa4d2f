"""What a signing key proves, written once for the server's keys and the remote guard's:
the Principal per verification method, and the addresses it may be used from."""

from __future__ import annotations

from propusk.core.networks import Network, address_allowed
from propusk.core.principals import AuthMethod, Principal

__all__ = ["PartnerIdentity"]


class PartnerIdentity:
    """A mixin of the frozen dataclasses that describe a signing key; they hold these
    fields, and a ``_principals`` dict field (``init=False``) for the built principals."""

    key_id: str
    kind: str
    org_id: str | None
    methods: frozenset[str]
    apps: frozenset[str] | None
    allowed_networks: tuple[Network, ...]  # empty: any address
    _principals: dict[AuthMethod, Principal]

    def principal(self, method: AuthMethod) -> Principal:
        """One Principal per method, built once from the frozen fields and kept while this
        description of the key lives (Principal is frozen too)."""
        principal = self._principals.get(method)
        if principal is None:
            principal = self._principals[method] = Principal(
                subject=self.key_id,
                method=method,
                kind=self.kind,
                org_id=self.org_id,
                methods=self.methods,
                apps=self.apps,
            )
        return principal

    def address_allowed(self, address: str | None) -> bool:
        return address_allowed(self.allowed_networks, address)
