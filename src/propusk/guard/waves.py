"""Waves-compatible API keys: ``X-API-Key: <plain key>`` checked against configured hashes.

A Waves Enterprise node in ``api-key`` mode (spec section 2) stores no key, only
``Base58(secureHash(key))`` for up to three roles (``api-key-hash``,
``privacy-api-key-hash``, ``confidential-contracts-api-key-hash``). Propusk accepts the
same keys against the same hashes, so clients and scripts written for a node work
unchanged; each hash grants one role, and the method catalog's ``[roles]`` say what the
role may call.

Coexistence with Propusk's managed API keys (``propusk_<keyId>_<secret>``, same header):
a value with the ``propusk_`` prefix is not ours, and this authenticator lets the next one
take it. Any other value is ours: it matches a configured hash or the request is refused.

With ``waves_errors`` on, a wrong or missing key is answered as a node answers it: 403 and
``{"error": <int>, "message": <text>}`` with the node's code for the role the route needs
(from ``ApiError.scala`` of waves-enterprise/we-node: 2, 614 or 649).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from propusk.core.catalog import MethodCatalog
from propusk.core.errors import PropuskError
from propusk.core.hashes import HASH_SIZE, base58_decode, secure_hash
from propusk.core.paths import PathError
from propusk.core.policy import Decision
from propusk.core.principals import Principal
from propusk.guard.authenticators import RequestView

__all__ = [
    "HEADER",
    "MANAGED_KEY_PREFIX",
    "ROLE_ADMIN",
    "ROLE_CONFIDENTIAL_CONTRACTS",
    "ROLE_PRIVACY",
    "SUBJECT_PREFIX",
    "ApiKeyNotValid",
    "ConfidentialContractsApiKeyNotValid",
    "ConfiguredKeyHash",
    "InvalidApiKey",
    "PrivacyApiKeyNotValid",
    "WavesApiError",
    "WavesApiKeyAuthenticator",
    "configured_hashes",
    "waves_error_for_role",
]

log = logging.getLogger("propusk.guard")

HEADER = "x-api-key"  # RequestView names are lower case: the header is matched in any case
MANAGED_KEY_PREFIX = "propusk_"
SUBJECT_PREFIX = "api-key-hash:"
ROLE_ADMIN = "admin"
ROLE_PRIVACY = "privacy"
ROLE_CONFIDENTIAL_CONTRACTS = "confidential_contracts"
# Longer values are refused without hashing them; real keys are far shorter, and the
# guard's header cap (16 KiB) already bounds the work.
MAX_KEY_CHARS = 1024


class InvalidApiKey(PropuskError):
    """A present X-API-Key that matches no configured hash (Propusk's own envelope)."""

    code = "invalid_api_key"
    status = 401
    message = "The API key is invalid"


class WavesApiError(PropuskError):
    """A refusal in a Waves Enterprise node's shape: ``{"error": <int>, "message": ...}``.

    The guard middleware, forward-auth and the server's error handler send
    :attr:`envelope` instead of Propusk's ``{"error": <code>, "message": ...}``.
    """

    status = 403
    waves_id: int = 2
    message = "Provided API key is not correct"

    @property
    def envelope(self) -> dict[str, object]:
        return {"error": self.waves_id, "message": self.message}


class ApiKeyNotValid(WavesApiError):
    code = "api_key_not_valid"
    waves_id = 2
    message = "Provided API key is not correct"


class PrivacyApiKeyNotValid(WavesApiError):
    code = "privacy_api_key_not_valid"
    waves_id = 614
    message = "Provided privacy API key is not correct"


class ConfidentialContractsApiKeyNotValid(WavesApiError):
    code = "confidential_contracts_api_key_not_valid"
    waves_id = 649
    message = "Provided ConfidentialContracts API key is not correct"


_WAVES_ERRORS: Mapping[str, type[WavesApiError]] = {
    ROLE_ADMIN: ApiKeyNotValid,
    ROLE_PRIVACY: PrivacyApiKeyNotValid,
    ROLE_CONFIDENTIAL_CONTRACTS: ConfidentialContractsApiKeyNotValid,
}
# When a route's method is held by several of these roles, the narrower role's error is
# the one a node would give (a node protects privacy routes with the privacy key only).
_ROUTE_ROLE_ORDER = (ROLE_PRIVACY, ROLE_CONFIDENTIAL_CONTRACTS)


def waves_error_for_role(role: str, *, detail: str | None = None) -> WavesApiError:
    """The node's error for a missing or wrong key of ``role`` (admin's for unknown roles)."""
    return _WAVES_ERRORS.get(role, ApiKeyNotValid)(detail=detail)


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
    # The guard decodes header bytes as latin-1, so this recovers the bytes on the wire:
    # a UTF-8 key sent as UTF-8 hashes exactly as the node's secureHash(UTF-8(key)).
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # a RequestView built by hand from arbitrary text
        return value.encode("utf-8")


class WavesApiKeyAuthenticator:
    """``X-API-Key: <plain key>`` checked against the configured node-style hashes.

    Returns None when the header is absent, when no hash is configured, or when the value
    is a managed key (``propusk_…``, another authenticator's). Otherwise the key must
    match: secureHash of the value is compared in constant time with *every* configured
    hash (no early exit, so timing does not tell which role's hash came closer), and a
    match yields ``Principal(subject="api-key-hash:<role>", method="api-key",
    kind="api-key", roles={role})``; no match raises :class:`InvalidApiKey`, or with
    ``waves_errors`` the node's error for the role the route needs.
    """

    name = "api-key-hash"

    def __init__(
        self,
        hashes: Iterable[ConfiguredKeyHash],
        catalog: MethodCatalog,
        *,
        waves_errors: bool = False,
    ) -> None:
        self._hashes = tuple(hashes)
        self._catalog = catalog
        self._waves_errors = waves_errors

    @property
    def configured(self) -> bool:
        return bool(self._hashes)

    async def authenticate(self, request: RequestView) -> Principal | None:
        value = request.headers.get(HEADER)
        if value is None or not self._hashes:
            return None
        if value.startswith(MANAGED_KEY_PREFIX):
            return None  # a managed key: the managed-key authenticator decides
        if not value:
            raise self._refusal(request, "empty X-API-Key")
        if len(value) > MAX_KEY_CHARS:
            raise self._refusal(request, f"X-API-Key of {len(value)} characters")
        presented = secure_hash(_key_bytes(value))
        roles = [h.role for h in self._hashes if hmac.compare_digest(presented, h.digest)]
        if not roles:
            raise self._refusal(request, "X-API-Key matches no configured hash")
        # Two roles configured with one key: the key holds both, as on a node.
        return Principal(
            subject=SUBJECT_PREFIX + "+".join(sorted(roles)),
            method="api-key",
            kind="api-key",
            roles=frozenset(roles),
        )

    def restate_denial(
        self, request: RequestView, principal: Principal | None, decision: Decision
    ) -> PropuskError | None:
        """With ``waves_errors``, a policy denial that a node would answer as a bad key:
        no credential at all on a protected route, or one of these keys on a route its
        role does not hold. Everything else keeps Propusk's own answer."""
        if not self._waves_errors or not self._hashes or decision.method is None:
            return None
        if principal is None:
            if decision.reason != "no_principal":
                return None
        elif not principal.subject.startswith(SUBJECT_PREFIX) or principal.kind != "api-key":
            return None
        return waves_error_for_role(
            self._role_of_method(decision.method), detail=f"waves: {decision.reason}"
        )

    def _refusal(self, request: RequestView, detail: str) -> PropuskError:
        if not self._waves_errors:
            return InvalidApiKey(detail=detail)
        try:
            found = self._catalog.match(request.method, request.path)
        except PathError:
            found = None
        method = found.method.name if found is not None and found.method is not None else None
        role = self._role_of_method(method) if method is not None else ROLE_ADMIN
        return waves_error_for_role(role, detail=detail)

    def _role_of_method(self, method: str) -> str:
        """The role whose key a node would have asked for on this method's routes."""
        everything = len(self._catalog.methods)
        for role in _ROUTE_ROLE_ORDER:
            held = self._catalog.roles.get(role, frozenset())
            # A role holding every method ("*") says nothing about this route.
            if method in held and len(held) < everything:
                return role
        return ROLE_ADMIN
