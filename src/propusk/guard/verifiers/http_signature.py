"""RFC 9421 HTTP Message Signatures: ``Signature-Input`` + ``Signature`` signed
with a partner's signing key (``keyid`` = the signing key's id).

The policy (docs/http-signatures.md): the covered components must include ``@method`` and
``@target-uri`` or ``@path`` (configurable), plus ``content-digest`` whenever the request
has a body, and the digest is checked against the exact bytes received; ``created`` no
older than the maximum age (with a small clock skew), ``expires`` honoured; a ``nonce`` is
required and refused when seen again for the same key within the maximum age (the
services cache: in-process or Redis across nodes). The algorithm must be one of the four
RFC 9421 asymmetric ones and its signing-key name must be enabled for the key.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from typing import Literal, Protocol

from propusk.core.catalog import Dialect
from propusk.core.errors import InvalidRequest
from propusk.core.http_signatures import (
    KEY_ALGORITHMS,
    HttpMessage,
    HttpSignatureError,
    SignaturePolicy,
    choose_algorithm,
    parse_signature,
    verify_signature,
)
from propusk.core.principals import Principal
from propusk.core.signature_input import DERIVED_COMPONENTS, FIELD_NAME
from propusk.guard.ports import Partner, ReplayCache, WallClock
from propusk.guard.request import RequestView
from propusk.guard.verifiers.partners import AddressBlocked

__all__ = ["HttpMessageSignature", "HttpSignatureKeys", "policy_from"]

log = logging.getLogger("propusk.guard")
MAX_KEYID_CHARS = 128


class HttpSignatureKeys(Protocol):
    """What the authenticator needs of the signing-key store (services/signing_keys.py)."""

    async def partner_by_id(self, key_id: str) -> Partner | None: ...

    async def note_used(self, key_id: str) -> None: ...


def policy_from(
    components: Iterable[str],
    *,
    max_age: int,
    clock_skew: int,
    require_nonce: bool = True,
    label: str | None = None,
) -> SignaturePolicy:
    """A policy from settings: each entry of ``components`` is one name or several joined
    by ``|`` (any one of them suffices)."""
    groups = []
    for entry in components:
        names = frozenset(name.strip() for name in entry.split("|") if name.strip())
        if not names:
            raise ValueError(f"empty required component entry {entry!r}")
        for name in names:
            if name not in DERIVED_COMPONENTS and not FIELD_NAME.fullmatch(name):
                raise ValueError(f"unknown component {name!r} (lower-case field or @derived)")
        groups.append(names)
    return SignaturePolicy(
        required=tuple(groups),
        max_age=max_age,
        clock_skew=clock_skew,
        require_nonce=require_nonce,
        label=label,
    )


_ENABLED: dict[frozenset[str], tuple[str, ...]] = {}


def _enabled(algorithms: frozenset[str]) -> tuple[str, ...]:
    """The RFC 9421 names a key's signing-key algorithms allow (a handful of distinct sets
    exist, so they are kept rather than rebuilt per request)."""
    enabled = _ENABLED.get(algorithms)
    if enabled is None:
        enabled = tuple(KEY_ALGORITHMS[name] for name in algorithms if name in KEY_ALGORITHMS)
        if len(_ENABLED) >= 64:
            _ENABLED.clear()
        _ENABLED[algorithms] = enabled
    return enabled


def _has_body(request: RequestView) -> bool:
    length = request.headers.get("content-length", "").strip()
    return (
        (bool(length) and length != "0")
        or "transfer-encoding" in request.headers
        or "content-digest" in request.headers
    )


class HttpMessageSignature:
    """RFC 9421 signatures by partners' signing keys; principal method ``http-signature``."""

    method: Literal["http-signature"] = "http-signature"
    dialect: Dialect | None = None

    def __init__(
        self,
        keys: HttpSignatureKeys,
        replays: ReplayCache,
        *,
        policy: SignaturePolicy | None = None,
        origin: str | None = None,
        clock: WallClock = time.time,
    ) -> None:
        self._keys = keys
        self._replays = replays
        self._policy = policy or SignaturePolicy()
        self._origin = origin.rstrip("/") if origin else None
        self._clock = clock

    def present(self, request: RequestView) -> bool:
        return "signature-input" in request.headers or "signature" in request.headers

    def wants_body(self, request: RequestView) -> bool:
        """The body is needed to check ``content-digest`` against the bytes received."""
        return "signature-input" in request.headers or "signature" in request.headers

    def _target_uri(self, request: RequestView) -> str:
        if self._origin is not None:
            origin = self._origin
        else:
            host = request.headers.get("host", "").strip()
            if not host:
                raise HttpSignatureError(detail="no Host header to build @target-uri from")
            origin = f"{request.scheme}://{host}"
        query = f"?{request.query}" if request.query else ""
        return f"{origin}{request.path}{query}"

    async def verify(self, request: RequestView) -> Principal:
        signature_input = request.headers.get("signature-input")
        signature = request.headers.get("signature")
        if signature_input is None or signature is None:
            raise HttpSignatureError(detail="Signature-Input and Signature must come together")
        sig = parse_signature(signature_input, signature, self._policy)
        key_id = sig.keyid
        if not key_id or len(key_id) > MAX_KEYID_CHARS:
            raise HttpSignatureError(detail="no usable keyid parameter")
        if request.body is None and _has_body(request):
            raise InvalidRequest(
                "Signed requests need the embedded guard: the request body is not available",
                detail="RFC 9421 signature over a body that was not read (forward-auth?)",
            )
        partner = await self._keys.partner_by_id(key_id)
        if partner is None:
            raise HttpSignatureError(detail="unknown or disabled signing key")
        public_key = partner.public_key
        alg = choose_algorithm(sig.alg, public_key, _enabled(partner.algorithms))
        message = HttpMessage(request.method, self._target_uri(request), request.headers)
        verified = verify_signature(
            sig,
            message,
            public_key,
            alg=alg,
            body=request.body,
            now=int(self._clock()),
            policy=self._policy,
        )
        if not partner.address_allowed(request.client):
            raise AddressBlocked(detail=f"key {key_id} from {request.client}")
        if verified.nonce is not None:
            # Remembered as long as a signature with this nonce could still be accepted.
            ttl = self._policy.max_age + 2 * self._policy.clock_skew
            digest = hashlib.sha256(verified.nonce.encode()).hexdigest()[:32]
            if not await self._replays.add(f"httpsig:{key_id}:{digest}", ttl):
                raise HttpSignatureError(detail=f"nonce reused for key {key_id}")
        await self._keys.note_used(key_id)
        return partner.principal("http-signature")
