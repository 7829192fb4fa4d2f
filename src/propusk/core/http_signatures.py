"""RFC 9421 HTTP Message Signatures: parse, build the signature base, verify, sign.

    Signature-Input: sig1=("@method" "@target-uri" "content-digest");created=1700000000;\
        keyid="sk_…";alg="ed25519";nonce="…"
    Signature: sig1=:<base64 signature>:

Three steps with three names (DESIGN.md): :func:`parse_signature` reads the two fields into
an :class:`UnverifiedSignature` (so the caller can look the ``keyid`` up),
:func:`choose_algorithm` settles the algorithm from the key and its allowlist, and
:func:`verify_signature` applies the policy (coverage, age, expiry, nonce presence),
checks the signature and the ``Content-Digest`` against the body, and returns a
:class:`VerifiedSignature`. Replay of a nonce is the caller's (it needs a shared cache).

Deny by default: four algorithms (``rsa-pss-sha512``, ``rsa-v1_5-sha256``,
``ecdsa-p256-sha256``, ``ed25519``; ``hmac-sha256`` and anything else are refused), a
closed set of signature parameters, derived components without parameters, header fields
without ``sf``/``key``/``bs``/``req``/``tr`` parameters, one signature per request unless
the caller names a label. Time is a parameter; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from http_sf.innerlist import ser_innerlist

from propusk.core.content_digest import verify_content_digest
from propusk.core.key_types import PrivateKey, PublicKey
from propusk.core.records import fast_init
from propusk.core.signature_input import (
    HttpSignatureError,
    SignaturePolicy,
    UnverifiedSignature,
    parse_signature,
)

__all__ = [
    "ALGORITHMS",
    "KEY_ALGORITHMS",
    "HttpMessage",
    "HttpSignatureError",
    "PrivateKey",
    "PublicKey",
    "SignaturePolicy",
    "UnverifiedSignature",
    "VerifiedSignature",
    "choose_algorithm",
    "parse_signature",
    "sign_base",
    "sign_message",
    "signature_base",
    "verify_base",
    "verify_signature",
]

ALGORITHMS: tuple[str, ...] = ("rsa-pss-sha512", "rsa-v1_5-sha256", "ecdsa-p256-sha256", "ed25519")
# A signing key's algorithm names (core/digital_sign.py) and the RFC 9421 algorithm each one
# allows: a key accepts an RFC 9421 signature only with a name enabled for it.
KEY_ALGORITHMS: dict[str, str] = {
    "SHA256withRSA": "rsa-v1_5-sha256",
    "SHA512withRSA/PSS": "rsa-pss-sha512",
    "SHA256withECDSA": "ecdsa-p256-sha256",
    "Ed25519": "ed25519",
}
DEFAULT_PORTS = {"http": "80", "https": "443"}
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)  # RFC 9421 section 3.3.1
_P256 = ec.ECDSA(hashes.SHA256())
_PKCS1 = padding.PKCS1v15()
_DEFAULT_POLICY = SignaturePolicy()


@dataclass(frozen=True)
class HttpMessage:
    """The parts of a request a signature can cover. ``target_uri`` is the absolute URI as
    the client addressed it (still percent-encoded); ``headers`` has lower-case names with
    repeated field lines joined by ``", "``. ``status`` is set only for a response (whose
    ``method`` and ``target_uri`` are then those of the request it answers)."""

    method: str
    target_uri: str
    headers: Mapping[str, str]
    status: int | None = None

    def __init__(
        self, method: str, target_uri: str, headers: Mapping[str, str], status: int | None = None
    ) -> None:
        # One per request: see UnverifiedSignature.__init__ (still frozen afterwards).
        self.__dict__.update(method=method, target_uri=target_uri, headers=headers, status=status)

    def derived(self, name: str) -> str:
        """The value of a derived component (RFC 9421 section 2.2)."""
        if name == "@method":
            return self.method
        if name == "@target-uri":
            return self.target_uri
        if name == "@status":
            if self.status is None:
                raise HttpSignatureError(detail="@status covered in a request")
            return str(self.status)
        parts = urlsplit(self.target_uri)
        scheme = parts.scheme.lower()
        path = parts.path or "/"
        if name == "@scheme":
            return scheme
        if name == "@authority":
            authority = parts.netloc.rpartition("@")[2].lower()
            host, sep, port = authority.rpartition(":")
            if not sep or authority.endswith("]"):  # no port (an IPv6 literal has colons)
                return authority
            return authority if port != DEFAULT_PORTS.get(scheme) else host
        if name == "@path":
            return path
        if name == "@query":
            return f"?{parts.query}"
        if name == "@request-target":
            return f"{path}?{parts.query}" if parts.query else path
        raise HttpSignatureError(detail=f"unsupported derived component {name}")


@fast_init  # one per request
@dataclass(frozen=True)
class VerifiedSignature:
    label: str
    keyid: str | None
    alg: str
    components: tuple[str, ...]
    created: int
    expires: int | None
    nonce: str | None
    digest: str | None  # the Content-Digest algorithm checked against the body, if covered


def _field_value(message: HttpMessage, name: str) -> str:
    value = message.headers.get(name)
    if value is None:
        raise HttpSignatureError(detail=f"covered field {name} is missing")
    return value.strip(" \t")


def signature_base(message: HttpMessage, components: Iterable[str], signature_params: str) -> bytes:
    """The signature base (RFC 9421 section 2.5) as the bytes that are signed."""
    lines = []
    for name in components:
        value = message.derived(name) if name.startswith("@") else _field_value(message, name)
        if "\n" in value or "\r" in value:
            raise HttpSignatureError(detail=f"component {name} contains a line break")
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {signature_params}')
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError:
        raise HttpSignatureError(detail="the signature base is not ASCII") from None


_FAMILIES: dict[type, str | None] = {}  # key class -> family: isinstance on ABCs is slow


def _family(key: object) -> str | None:
    kind = type(key)
    if kind not in _FAMILIES:
        family = None
        if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
            family = "rsa"
        elif isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
            family = "ec"
        elif isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
            family = "ed25519"
        _FAMILIES[kind] = family
    return _FAMILIES[kind]


def _key_fits(alg: str, key: PublicKey | PrivateKey) -> bool:
    family = _family(key)
    if alg in ("rsa-pss-sha512", "rsa-v1_5-sha256"):
        return family == "rsa"
    if alg == "ecdsa-p256-sha256":
        return family == "ec" and cast(ec.EllipticCurvePublicKey, key).curve.name == "secp256r1"
    return alg == "ed25519" and family == "ed25519"


def choose_algorithm(declared: str | None, key: PublicKey, allowed: Iterable[str]) -> str:
    """The algorithm to verify with: the declared ``alg`` if it is supported, allowed for
    this key and fits its type; without ``alg``, the only allowed one that fits the key."""
    allowed = [alg for alg in allowed if alg in ALGORITHMS]
    if declared is not None:
        if declared not in ALGORITHMS:
            raise HttpSignatureError(detail=f"algorithm {declared!r} is not supported")
        if declared not in allowed:
            raise HttpSignatureError(detail=f"algorithm {declared} is not enabled for this key")
        if not _key_fits(declared, key):
            raise HttpSignatureError(detail=f"algorithm {declared} does not match the key")
        return declared
    fitting = [alg for alg in allowed if _key_fits(alg, key)]
    if len(fitting) != 1:
        raise HttpSignatureError(detail="no alg parameter and the key allows no single algorithm")
    return fitting[0]


def verify_base(alg: str, key: PublicKey, signature: bytes, data: bytes) -> None:
    """Check ``signature`` over a signature base with ``alg``; raises
    :class:`cryptography.exceptions.InvalidSignature` or :class:`HttpSignatureError`."""
    if not _key_fits(alg, key):
        raise HttpSignatureError(detail=f"algorithm {alg} does not match the key")
    if alg == "rsa-pss-sha512":
        cast(rsa.RSAPublicKey, key).verify(signature, data, _PSS, hashes.SHA512())
    elif alg == "rsa-v1_5-sha256":
        cast(rsa.RSAPublicKey, key).verify(signature, data, _PKCS1, hashes.SHA256())
    elif alg == "ecdsa-p256-sha256":
        if len(signature) != 64:  # r || s, 32 bytes each (RFC 9421 section 3.3.4)
            raise HttpSignatureError(detail="ECDSA signature is not 64 bytes")
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        cast(ec.EllipticCurvePublicKey, key).verify(encode_dss_signature(r, s), data, _P256)
    else:
        cast(ed25519.Ed25519PublicKey, key).verify(signature, data)


def _check_params(sig: UnverifiedSignature, now: int, policy: SignaturePolicy) -> None:
    created = sig.params.get("created")
    if not isinstance(created, int):
        raise HttpSignatureError(detail="no created parameter")
    if created > now + policy.clock_skew:
        raise HttpSignatureError(detail="created is in the future")
    if now - created > policy.max_age + policy.clock_skew:
        raise HttpSignatureError(detail="the signature is older than the maximum age")
    expires = sig.params.get("expires")
    if isinstance(expires, int):
        if expires < created:
            raise HttpSignatureError(detail="expires is before created")
        if expires < now - policy.clock_skew:
            raise HttpSignatureError(detail="the signature has expired")
    nonce = sig.params.get("nonce")
    if nonce is None and policy.require_nonce:
        raise HttpSignatureError(detail="no nonce parameter")
    if isinstance(nonce, str) and not 0 < len(nonce) <= policy.max_nonce_chars:
        raise HttpSignatureError(detail="the nonce is empty or too long")


def verify_signature(
    sig: UnverifiedSignature,
    message: HttpMessage,
    key: PublicKey,
    *,
    alg: str,
    body: bytes | None,
    now: int,
    policy: SignaturePolicy | None = None,
) -> VerifiedSignature:
    """Apply ``policy`` and check ``sig`` over ``message`` (and ``body``) with ``key``."""
    policy = policy or _DEFAULT_POLICY
    if alg not in ALGORITHMS:
        raise HttpSignatureError(detail=f"algorithm {alg!r} is not supported")
    params = sig.params
    declared = params.get("alg")
    if isinstance(declared, str) and declared != alg:
        raise HttpSignatureError(detail="the alg parameter does not match the algorithm")
    _check_params(sig, now, policy)
    components = sig.components  # a short tuple: membership tests beat building a set
    for group in policy.required:
        if group.isdisjoint(components):
            raise HttpSignatureError(detail=f"required component {'|'.join(sorted(group))}")
    covers_digest = "content-digest" in components
    has_body = bool(body) or "content-digest" in message.headers
    if policy.require_body_digest and not covers_digest and has_body:
        raise HttpSignatureError(detail="the body is not covered by content-digest")
    data = signature_base(message, components, sig.signature_params)
    try:
        verify_base(alg, key, sig.signature, data)
    except InvalidSignature:
        raise HttpSignatureError(detail="the signature does not verify") from None
    digest = None
    if covers_digest:
        if body is None:
            raise HttpSignatureError(detail="content-digest covered but the body was not read")
        digest = verify_content_digest(message.headers["content-digest"], body)
    created = params["created"]
    keyid, expires, nonce = params.get("keyid"), params.get("expires"), params.get("nonce")
    return VerifiedSignature(
        sig.label,
        keyid if isinstance(keyid, str) else None,
        alg,
        components,
        created if isinstance(created, int) else 0,
        expires if isinstance(expires, int) else None,
        nonce if isinstance(nonce, str) else None,
        digest,
    )


def sign_base(alg: str, key: PrivateKey, data: bytes) -> bytes:
    """The ``alg`` signature of a signature base (ECDSA as ``r || s``, RFC 9421 3.3.4)."""
    if not _key_fits(alg, key):
        raise ValueError(f"algorithm {alg} does not match the key")
    if isinstance(key, rsa.RSAPrivateKey):
        if alg == "rsa-pss-sha512":
            return key.sign(data, _PSS, hashes.SHA512())
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, _P256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(data)


def sign_message(
    message: HttpMessage,
    key: PrivateKey,
    *,
    alg: str,
    keyid: str,
    components: Iterable[str],
    created: int,
    nonce: str | None = None,
    expires: int | None = None,
    tag: str | None = None,
    label: str = "sig1",
) -> tuple[str, str]:
    """Sign ``message``: returns the ``Signature-Input`` and ``Signature`` field values."""
    if alg not in ALGORITHMS:
        raise ValueError(f"algorithm {alg!r} is not supported")
    params: dict[str, object] = {"created": created}
    if expires is not None:
        params["expires"] = expires
    params["keyid"] = keyid
    params["alg"] = alg
    if nonce is not None:
        params["nonce"] = nonce
    if tag is not None:
        params["tag"] = tag
    members: list[tuple[str, dict[str, object]]] = [(name, {}) for name in components]
    inner = (members, params)
    base = signature_base(message, [name for name, _ in members], ser_innerlist(inner))  # type: ignore[arg-type]
    signature = sign_base(alg, key, base)
    signature_input = http_sf.ser({label: inner})  # type: ignore[dict-item]
    return signature_input, http_sf.ser({label: (signature, {})})
