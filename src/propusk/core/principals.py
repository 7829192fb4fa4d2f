"""The Principal: the verified result of any authentication."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    """Who was authenticated, how, and what it holds.

    ``subject`` is the account id (or credential id for credentials); ``method`` names the
    authenticator (``"bearer"`` for account access tokens).
    """

    subject: str
    method: str
    roles: frozenset[str] = field(default_factory=frozenset)
    kind: str = "account"
    token_id: str | None = None
    expires_at: int | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles
