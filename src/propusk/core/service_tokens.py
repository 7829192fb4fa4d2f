"""The 900 s service token (spec section 1): a compact JWE, ``dir`` + ``A256GCM``.

A service key is exchanged for this token, and the token rides in the ``Public-Token``
header of every later call, so :meth:`ServiceTokenDecryptor.decrypt` is on the hot path of
every request. It is a narrow, strict reading of RFC 7516 for exactly one shape::

    B64URL(header) . "" . B64URL(iv, 12 bytes) . B64URL(ciphertext) . B64URL(tag, 16 bytes)
    header = {"alg": "dir", "enc": "A256GCM", "kid": "<server key id>"[, "typ": "JWT"]}

The protected header is an allowlist: exactly ``alg: dir`` and ``enc: A256GCM`` (so no key
wrapping, no RSA, no CBC-HMAC, no ``zip`` — a decompression bomb needs no key — and no
``crit``), a ``kid`` this node holds, an optional ``typ`` of ``JWT``, nothing else. The AAD
is the ASCII of the header's base64url as sent (RFC 7516 section 5.2, step 14), so any
change to the header breaks the tag. Base64url is checked to be canonical so that one token
has one spelling. One :class:`~cryptography.hazmat.primitives.ciphers.aead.AESGCM` object
per kid is built once; headers that have opened a token are remembered (a bounded cache of
authenticated headers only) so the common case parses no header JSON.

The plaintext is the claims JSON: ``iss``, ``sub`` (key ID), ``org``, ``apps``, ``methods``,
``iat``, ``exp``, ``jti`` and ``gen`` (the key's generation: the service bumps it on every
rotation or disable and refuses tokens of an older one), and ``cnf`` when the token is bound
to a client certificate (RFC 8705). Unknown claims are ignored, so
nodes of two versions can run side by side; they are authenticated anyway.

Every failure is :class:`~propusk.core.errors.InvalidToken` (or :class:`TokenExpired`,
:class:`~propusk.core.tokens.UnknownKeyId`); ``detail`` names the check for logs and never
carries key material or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from propusk.core.cnf import CNF_CLAIM, cnf_claim, read_cnf
from propusk.core.errors import InvalidToken, TokenExpired
from propusk.core.principals import Principal
from propusk.core.tokens import UnknownKeyId

__all__ = [
    "IV_BYTES",
    "KEY_BYTES",
    "MAX_SERVICE_TOKEN_CHARS",
    "SERVICE_TOKEN_ALG",
    "SERVICE_TOKEN_ENC",
    "SERVICE_TOKEN_TTL",
    "SERVICE_TOKEN_TYPE",
    "TAG_BYTES",
    "ServiceTokenClaims",
    "ServiceTokenDecryptor",
    "issue_service_token",
]

# Algorithm names and a media type (RFC 7519 section 5.1), not secrets.
SERVICE_TOKEN_ALG = "dir"  # noqa: S105
SERVICE_TOKEN_ENC = "A256GCM"  # noqa: S105
SERVICE_TOKEN_TYPE = "JWT"  # noqa: S105
SERVICE_TOKEN_TTL = 900
KEY_BYTES = 32
IV_BYTES = 12
TAG_BYTES = 16
MAX_SERVICE_TOKEN_CHARS = 8192
"""The token is a request header on every call; 8 KiB is what common proxies allow for one
header line (nginx ``large_client_header_buffers``). It bounds the apps and methods a token
can carry: with 24-character app ids, about 250 apps."""

_HEADER_KEYS = frozenset({"alg", "enc", "kid", "typ"})
_HEADER_CACHE_SIZE = 64
_IV_CHARS = 16  # base64url of 12 bytes, no padding
_TAG_CHARS = 22  # base64url of 16 bytes, no padding
# Five base64url parts, the second (the encrypted key) empty: "dir" has none.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# The last character of canonical unpadded base64url, by length mod 4: with 2 characters
# left over only 4 of the 64 letters have the unused bits zero, with 3 only 16.
# These letters are the same in both alphabets, so the check holds after translation too.
_LAST_CHAR = {0: None, 2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
_PADDING = {0: b"", 2: b"==", 3: b"="}
# base64url -> standard Base64, for binascii; ``_COMPACT`` has refused "+", "/" and "=".
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_JSON = json.JSONDecoder()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(part: bytes) -> bytes:
    """Decode canonical unpadded base64url already translated to the standard alphabet
    (binascii is several times faster than ``base64.urlsafe_b64decode``)."""
    rest = len(part) % 4
    if rest == 1:
        raise ValueError("impossible base64url length")
    allowed = _LAST_CHAR[rest]
    if allowed is not None and chr(part[-1]) not in allowed:
        raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(part + _PADDING[rest], strict_mode=True)


@dataclass(frozen=True, slots=True)
class ServiceTokenClaims:
    """The verified content of a service token."""

    issuer: str
    key_id: str
    """The service key's key ID (``sub``)."""
    org_id: str
    apps: frozenset[str]
    methods: frozenset[str]
    issued_at: int
    expires_at: int
    jti: str
    generation: int
    """The key's generation when the token was issued (``gen``)."""
    kid: str
    """The server key the token was encrypted with."""
    cert_thumbprint: str | None = None
    """RFC 8705 ``cnf.x5t#S256``: the client certificate the token is bound to."""

    def principal(self) -> Principal:
        """The service-key Principal these verified claims describe."""
        return Principal(
            subject=self.key_id,
            method="service-key",
            kind="service-key",
            org_id=self.org_id,
            methods=self.methods,
            apps=self.apps,
            cert_thumbprint=self.cert_thumbprint,
            token_id=self.jti,
            expires_at=self.expires_at,
        )


def _check_key(kid: str, key: bytes) -> None:
    if not isinstance(kid, str) or not kid:
        raise ValueError("a kid must be a non-empty string")
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError(f"service token keys are {KEY_BYTES} bytes (A256GCM)")


def _strings(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise ValueError(f"{what} must be a collection of strings, not a string")
    items = sorted(set(values))
    if not all(isinstance(v, str) for v in items):
        raise ValueError(f"{what} must be strings")
    return items


def issue_service_token(
    key: bytes,
    kid: str,
    *,
    key_id: str,
    org_id: str,
    apps: Iterable[str],
    methods: Iterable[str],
    issuer: str,
    issued_at: int,
    ttl: int,
    jti: str,
    generation: int,
    iv: bytes,
    cert_thumbprint: str | None = None,
) -> str:
    """Encrypt a service token under ``key`` (32 bytes) with the given 12-byte ``iv``.

    The IV must never repeat under one key (GCM loses confidentiality *and* integrity if it
    does): the caller draws it from a CSPRNG, 96 random bits per token. Apps and methods
    are written sorted and without duplicates. ValueError for arguments that would make a
    token this module refuses to read, including one over :data:`MAX_SERVICE_TOKEN_CHARS`.
    """
    _check_key(kid, key)
    if not isinstance(iv, bytes) or len(iv) != IV_BYTES:
        raise ValueError(f"the IV must be {IV_BYTES} bytes")
    for name, text in (("key_id", key_id), ("org_id", org_id), ("issuer", issuer), ("jti", jti)):
        if not isinstance(text, str) or not text:
            raise ValueError(f"{name} must be a non-empty string")
    for name, number in (("issued_at", issued_at), ("ttl", ttl), ("generation", generation)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise ValueError(f"{name} must be a non-negative integer")
    if ttl == 0:
        raise ValueError("ttl must be positive")
    claims = {
        "iss": issuer,
        "sub": key_id,
        "org": org_id,
        "apps": _strings(apps, "apps"),
        "methods": _strings(methods, "methods"),
        "iat": issued_at,
        "exp": issued_at + ttl,
        "jti": jti,
        "gen": generation,
    }
    if cert_thumbprint is not None:
        claims[CNF_CLAIM] = cnf_claim(cert_thumbprint)  # RFC 8705 certificate binding
    header = {
        "alg": SERVICE_TOKEN_ALG,
        "enc": SERVICE_TOKEN_ENC,
        "kid": kid,
        "typ": SERVICE_TOKEN_TYPE,
    }
    header_b64 = _b64url(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    plaintext = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    sealed = AESGCM(key).encrypt(iv, plaintext, header_b64.encode("ascii"))
    ciphertext, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    token = f"{header_b64}..{_b64url(iv)}.{_b64url(ciphertext)}.{_b64url(tag)}"
    if len(token) > MAX_SERVICE_TOKEN_CHARS:
        raise ValueError("the token would be too long: too many apps or methods")
    return token


def _string_set(value: object) -> frozenset[str] | None:
    """``value`` as a set if it is a JSON list of strings, else None."""
    if type(value) is not list:
        return None
    for item in value:
        if type(item) is not str:
            return None
    return frozenset(value)


class ServiceTokenDecryptor:
    """Decrypts and validates service tokens with a fixed set of server keys.

    ``keys`` maps ``kid`` to a 32-byte key; build a new decryptor when the keyring changes
    (it is cheap). ``max_token_chars`` caps the input before any work is done.
    """

    __slots__ = ("_aeads", "_headers", "_issuer", "_max_chars")

    def __init__(
        self,
        keys: Mapping[str, bytes],
        *,
        issuer: str,
        max_token_chars: int = MAX_SERVICE_TOKEN_CHARS,
    ) -> None:
        for kid, key in keys.items():
            _check_key(kid, key)
        if not isinstance(issuer, str) or not issuer:
            raise ValueError("issuer must be a non-empty string")
        self._aeads: dict[str, AESGCM] = {kid: AESGCM(key) for kid, key in keys.items()}
        self._issuer = issuer
        self._max_chars = max_token_chars
        # header base64url -> kid, only for headers that have opened a token: an attacker
        # cannot fill it with variants, because a variant needs the key to pass the tag.
        self._headers: dict[str, str] = {}

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._aeads)

    def decrypt(self, token: str, *, now: int, leeway: int = 0) -> ServiceTokenClaims:
        """Decrypt ``token`` and check its claims at ``now`` (Unix seconds).

        Refused with :class:`TokenExpired` when ``now >= exp + leeway`` (RFC 7519: the
        token is valid *before* ``exp``), with :class:`InvalidToken` when ``iat`` is more
        than ``leeway`` seconds in the future, and with :class:`UnknownKeyId` for a
        well-formed header naming a kid this decryptor does not hold.
        """
        if type(token) is not str or len(token) > self._max_chars:
            raise InvalidToken(detail="service token: not a string of acceptable size")
        if _COMPACT.fullmatch(token) is None:
            raise InvalidToken(detail="service token: not a compact dir JWE")
        # One translation of the whole token instead of one per part (the regex has
        # made it ASCII); the header stays as sent: its base64url is the AAD.
        header, _, iv_b64, ciphertext_b64, tag_b64 = (
            token.encode("ascii").translate(_URL_TO_STANDARD).split(b".")
        )
        if len(iv_b64) != _IV_CHARS or len(tag_b64) != _TAG_CHARS:
            raise InvalidToken(detail="service token: IV or tag of the wrong size")
        header_b64 = token[: token.index(".")]
        kid = self._headers.get(header_b64)
        if kid is None:
            kid = self._read_header(header)
        aead = self._aeads.get(kid)
        if aead is None:  # a cached header whose key has since gone: not possible, but cheap
            raise UnknownKeyId(detail="service token: unknown kid")
        try:
            iv = _unb64url(iv_b64)
            sealed = _unb64url(ciphertext_b64) + _unb64url(tag_b64)
        except ValueError as exc:  # binascii.Error is a ValueError
            raise InvalidToken(detail="service token: bad base64url") from exc
        try:
            plaintext = aead.decrypt(iv, sealed, header_b64.encode("ascii"))
        except InvalidTag as exc:
            raise InvalidToken(detail="service token: does not decrypt") from exc
        if header_b64 not in self._headers and len(self._headers) < _HEADER_CACHE_SIZE:
            self._headers[header_b64] = kid
        return self._read_claims(plaintext, kid, now, leeway)

    def _read_header(self, header: bytes) -> str:
        """The ``kid`` of an allowed protected header (base64 in the standard alphabet),
        or InvalidToken / UnknownKeyId."""
        try:
            unverified_header = _JSON.decode(_unb64url(header).decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # binascii, JSON, UTF-8 errors; "[[[[..."
            raise InvalidToken(detail="service token: unparsable header") from exc
        if type(unverified_header) is not dict or not _HEADER_KEYS.issuperset(unverified_header):
            raise InvalidToken(detail="service token: header has members not allowed")
        if (
            unverified_header.get("alg") != SERVICE_TOKEN_ALG
            or unverified_header.get("enc") != SERVICE_TOKEN_ENC
            or unverified_header.get("typ", SERVICE_TOKEN_TYPE) != SERVICE_TOKEN_TYPE
        ):
            raise InvalidToken(detail="service token: algorithm not allowed")
        kid = unverified_header.get("kid")
        if type(kid) is not str:
            raise InvalidToken(detail="service token: no kid")
        if kid not in self._aeads:
            raise UnknownKeyId(detail="service token: unknown kid")
        return kid

    def _read_claims(self, plaintext: bytes, kid: str, now: int, leeway: int) -> ServiceTokenClaims:
        try:
            claims: Any = _JSON.decode(plaintext.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise InvalidToken(detail="service token: claims are not JSON") from exc
        if type(claims) is not dict:
            raise InvalidToken(detail="service token: claims are not an object")
        try:
            iss = claims["iss"]
            sub = claims["sub"]
            org = claims["org"]
            apps = _string_set(claims["apps"])
            methods = _string_set(claims["methods"])
            iat = claims["iat"]
            exp = claims["exp"]
            jti = claims["jti"]
            gen = claims["gen"]
        except KeyError as exc:
            raise InvalidToken(detail=f"service token: claim {exc.args[0]} missing") from exc
        # type() is, not isinstance: bool is an int, and JSON true must not pass as one.
        if (
            type(iss) is not str
            or type(sub) is not str
            or type(org) is not str
            or type(jti) is not str
            or type(iat) is not int
            or type(exp) is not int
            or type(gen) is not int
            or apps is None
            or methods is None
        ):
            raise InvalidToken(detail="service token: claims of the wrong type")
        if iss != self._issuer:
            raise InvalidToken(detail="service token: wrong issuer")
        if now >= exp + leeway:
            raise TokenExpired(detail="service token: expired")
        if iat > now + leeway:
            raise InvalidToken(detail="service token: issued in the future")
        return ServiceTokenClaims(
            issuer=iss,
            key_id=sub,
            org_id=org,
            apps=apps,
            methods=methods,
            issued_at=iat,
            expires_at=exp,
            jti=jti,
            generation=gen,
            kid=kid,
            cert_thumbprint=read_cnf(claims),
        )
