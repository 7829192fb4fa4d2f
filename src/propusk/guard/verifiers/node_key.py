"""Node-style API keys: ``X-API-Key: <plain key>`` checked against configured hashes.

A Waves Enterprise node in ``api-key`` mode (spec section 2) stores no key, only
``Base58(secureHash(key))`` for up to three roles (``api-key-hash``,
``privacy-api-key-hash``, ``confidential-contracts-api-key-hash``). Propusk accepts the
same keys against the same hashes, so clients and scripts written for a node work
unchanged; each hash grants one role, and the method catalog's ``[roles]`` say what the
role may call.

Coexistence with managed API keys (``propusk_<keyId>_<secret>``, same header): a value
with the ``propusk_`` prefix is not this verifier's. Any other value is: it matches a
configured hash or the request is refused. How the refusal reads (Propusk's JSON, or a
node's ``{"error": 2, …}`` with ``waves_errors``) is the dialect's business
(:mod:`propusk.guard.dialects`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from propusk.core.catalog import Dialect
from propusk.core.errors import PropuskError
from propusk.core.hashes import HASH_SIZE, base58_decode, secure_hash
from propusk.core.principals import Principal
from propusk.guard.request import RequestView
from propusk.guard.verifiers.api_key import HEADER, MANAGED_KEY_PREFIX

__all__ = [
    "SUBJECT_PREFIX",
    "ConfiguredKeyHash",
    "InvalidApiKey",
    "NodeApiKey",
    "configured_hashes",
]

SUBJECT_PREFIX = "api-key-hash:"
# Longer values are refused without hashing them; real keys are far shorter, and the
# guard's header cap (16 KiB) already bounds the work.
MAX_KEY_CHARS = 1024


class InvalidApiKey(PropuskError):
    """A present X-API-Key that matches no configured hash (Propusk's own envelope)."""

    code = "invalid_api_key"
    status = 401
    message = "The API key is invalid"


@dataclass(frozen=True, slots=True)
class ConfiguredKeyHash:
    """One configured hash: the role it grants and the 32 raw bytes of secureHash(key)."""

    role: str
    digest: bytes

    def __repr__(self) -> str:
        return f"ConfiguredKeyHash(role={self.role!r})"  # the hash stays out of logs


def configured_hashes(by_role: Mapping[str, str | None]) -> tuple[ConfiguredKeyHash, ...]:
    """Decode ``{role: Base58 hash or None}``; raise ``ValueError`` for a bad hash.

    The settings validate the same at start-up; this check keeps the guard safe when it is
    built by hand, outside the server.
    """
    out: list[ConfiguredKeyHash] = []
    for role, text in by_role.items():
        if not text:
            continue
        digest = base58_decode(text.strip())
        if len(digest) != HASH_SIZE:
            raise ValueError(f"the {role} API-key hash must decode to {HASH_SIZE} bytes")
        out.append(ConfiguredKeyHash(role, digest))
    return tuple(out)


def _key_bytes(value: str) -> bytes:
    # The gate decodes header bytes as latin-1, so this recovers the bytes on the wire:
    # a UTF-8 key sent as UTF-8 hashes exactly as the node's secureHash(UTF-8(key)).
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # a RequestView built by hand from arbitrary text
        return value.encode("utf-8")


class NodeApiKey:
    """``X-API-Key: <plain key>`` against the configured node-style hashes.

    secureHash of the value is compared in constant time with *every* configured hash (no
    early exit, so timing does not tell which role's hash came closer); a match yields
    ``Principal(subject="api-key-hash:<role>", method="api-key", kind="api-key",
    roles={role})``. With ``waves_errors`` its refusals speak the node's dialect.
    """

    method: Literal["api-key"] = "api-key"

    def __init__(self, hashes: Iterable[ConfiguredKeyHash], *, waves_errors: bool = False) -> None:
        self._hashes = tuple(hashes)
        self.dialect: Dialect | None = "waves" if waves_errors else None

    @property
    def configured(self) -> bool:
        return bool(self._hashes)

    def present(self, request: RequestView) -> bool:
        value = request.headers.get(HEADER)
        return value is not None and bool(self._hashes) and not value.startswith(MANAGED_KEY_PREFIX)

    def wants_body(self, request: RequestView) -> bool:
        return False

    async def verify(self, request: RequestView) -> Principal:
        value = request.headers.get(HEADER, "")
        if not value:
            raise InvalidApiKey(detail="empty X-API-Key")
        if len(value) > MAX_KEY_CHARS:
            raise InvalidApiKey(detail=f"X-API-Key of {len(value)} characters")
        presented = secure_hash(_key_bytes(value))
        roles = [h.role for h in self._hashes if hmac.compare_digest(presented, h.digest)]
        if not roles:
            raise InvalidApiKey(detail="X-API-Key matches no configured hash")
        # Two roles configured with one key: the key holds both, as on a node.
        return Principal(
            subject=SUBJECT_PREFIX + "+".join(sorted(roles)),
            method="api-key",
            kind="api-key",
            roles=frozenset(roles),
        )
