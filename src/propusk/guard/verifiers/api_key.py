"""``X-API-Key: propusk_<keyId>_<secret>``: a managed API key (only its hash is stored),
verified by the server's API-key service, or by introspection in a resource API.

Values without the ``propusk_`` prefix are not this verifier's: they are node-style keys
checked against configured hashes (:mod:`propusk.guard.verifiers.node_key`).
"""

from __future__ import annotations

from typing import Literal

from propusk.guard.request import RequestView
from propusk.guard.verifiers.token import TokenCredential

__all__ = ["HEADER", "MANAGED_KEY_PREFIX", "ManagedApiKey"]

HEADER = "x-api-key"  # RequestView names are lower case: the header is matched in any case
MANAGED_KEY_PREFIX = "propusk_"


class ManagedApiKey(TokenCredential):
    method: Literal["api-key"] = "api-key"

    def token(self, request: RequestView) -> str | None:
        value = request.headers.get(HEADER)
        if value is None or not value.startswith(MANAGED_KEY_PREFIX):
            return None
        return value.strip()
