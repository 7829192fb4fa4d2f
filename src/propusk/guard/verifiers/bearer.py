"""``Authorization: Bearer <access token>``: an RS256 JWT from Propusk's account service,
verified by the server's sessions, or locally from the JWKS in a resource API."""

from __future__ import annotations

from typing import Literal

from propusk.guard.request import RequestView
from propusk.guard.verifiers.token import TokenCredential

__all__ = ["BearerToken", "bearer_token"]


def bearer_token(request: RequestView) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None for no header or another
    scheme (Basic, DPoP…: not this verifier's credential)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class BearerToken(TokenCredential):
    method: Literal["bearer"] = "bearer"

    def token(self, request: RequestView) -> str | None:
        return bearer_token(request)
