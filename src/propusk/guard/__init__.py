"""The guard: what a resource API embeds (ASGI middleware) or calls (forward-auth) to
enforce Propusk's decisions."""

from __future__ import annotations

from propusk.guard.authenticators import (
    Authenticator,
    BearerAuthenticator,
    JWKSVerifier,
    PublicTokenAuthenticator,
    RequestView,
    TokenVerifier,
)
from propusk.guard.middleware import PRINCIPAL_KEY, PropuskGuard, principal_of

__all__ = [
    "PRINCIPAL_KEY",
    "Authenticator",
    "BearerAuthenticator",
    "JWKSVerifier",
    "PropuskGuard",
    "PublicTokenAuthenticator",
    "RequestView",
    "TokenVerifier",
    "principal_of",
]
