"""The Principal: the verified result of any authentication."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

__all__ = ["AUTH_METHODS", "AuthMethod", "Principal"]

AuthMethod = Literal[
    "bearer", "service-key", "api-key", "signature", "password", "http-signature", "mtls"
]
"""How a caller proved who it is: ``Principal.method``, and the ``X-Propusk-Auth`` header
forward-auth sends (docs/forward-auth.md):

- ``bearer``: an account access token (``Authorization: Bearer``);
- ``service-key``: a service-key token (``Public-Token``);
- ``api-key``: an API key (``X-API-Key``), managed or node-style;
- ``signature``: ``X-Digital-Sign`` over the body, by a signing key;
- ``password``: the terminal password of a partner XML request;
- ``http-signature``: an RFC 9421 signature, by a signing key;
- ``mtls``: a client certificate issued by Propusk's CA.
"""
AUTH_METHODS: frozenset[str] = frozenset(get_args(AuthMethod))


@dataclass(frozen=True)
class Principal:
    """Who was authenticated, how, and what it holds.

    - ``subject``: the account id, or the credential's id for credentials.
    - ``method``: how it was proved (:data:`AuthMethod`).
    - ``kind``: ``"account"`` or the credential kind.
    - ``org_id``: the organization a credential belongs to (None for accounts).
    - ``roles``: global roles (accounts); the policy maps roles to methods.
    - ``methods``: catalog method names a credential holds (None: derive from roles).
    - ``apps``: app ids in a credential's scope (None: not app-scoped).
    - ``cert_thumbprint``: SHA-256 thumbprint of a bound client certificate (RFC 8705).
    """

    subject: str
    method: AuthMethod
    roles: frozenset[str] = field(default_factory=frozenset)
    kind: str = "account"
    org_id: str | None = None
    methods: frozenset[str] | None = None
    apps: frozenset[str] | None = None
    cert_thumbprint: str | None = None
    token_id: str | None = None
    expires_at: int | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles
