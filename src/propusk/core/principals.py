"""The Principal: the verified result of any authentication."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    """Who was authenticated, how, and what it holds.

    - ``subject``: the account id, or the credential's id for credentials.
    - ``method``: the authenticator that produced it (``"bearer"`` for account access
      tokens; later ``"service-key"``, ``"api-key"``, ``"signature"``, ``"mtls"``).
    - ``kind``: ``"account"`` or the credential kind.
    - ``org_id``: the organization a credential belongs to (None for accounts).
    - ``roles``: global roles (accounts); the policy maps roles to methods.
    - ``methods``: catalog method names a credential holds (None: derive from roles).
    - ``apps``: app ids in a credential's scope (None: not app-scoped).
    - ``cert_thumbprint``: SHA-256 thumbprint of a bound client certificate (RFC 8705).
    """

    subject: str
    method: str
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
