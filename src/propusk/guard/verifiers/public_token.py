"""``Public-Token: <jwe>``: a service-key token from ``POST /public/auth/`` (spec section 1),
verified by the server's exchange, or by introspection in a resource API."""

from __future__ import annotations

from typing import Literal

from propusk.core.catalog import Dialect
from propusk.guard.request import RequestView
from propusk.guard.verifiers.token import TokenCredential

__all__ = ["HEADER", "PublicToken"]

HEADER = "public-token"


class PublicToken(TokenCredential):
    method: Literal["service-key"] = "service-key"
    # RuStore clients parse {"code": "ERROR", …} from every method of that API.
    dialect: Dialect | None = "rustore"

    def token(self, request: RequestView) -> str | None:
        value = request.headers.get(HEADER)
        return None if value is None else value.strip()
