"""Signed requests for httpx: ``X-Digital-Sign`` body signatures (spec §3, the QIWI partner
model) and RFC 9421 HTTP Message Signatures, both with a partner's signing key::

    key = load_signing_key(Path("private.pem").read_bytes())
    auth = DigitalSignatureAuth(key, "SHA256withRSA", login="partner-17")
    with httpx.Client(auth=auth, timeout=10) as http:
        http.post("https://api.example.com/demo/payments/topup", content=xml)

    auth = HttpMessageSignatureAuth(key, keyid="<signing key id>")
    async with httpx.AsyncClient(auth=auth, timeout=10) as http:
        await http.post("https://api.example.com/demo/apps/A/reviews/R/reply", json={...})

Both flows set ``requires_request_body = True`` (httpx then reads a streamed body before
the flow runs, so the exact bytes sent are the bytes signed) and do no I/O themselves, so
one object serves ``httpx.Client`` and ``httpx.AsyncClient`` alike.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Generator, Iterable
from typing import Literal

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from propusk.core import digital_sign
from propusk.core.content_digest import content_digest
from propusk.core.http_signatures import ALGORITHMS, HttpMessage, PrivateKey, sign_message

__all__ = [
    "DEFAULT_COMPONENTS",
    "DigitalSignatureAuth",
    "HttpMessageSignatureAuth",
    "default_rfc9421_alg",
    "load_signing_key",
]

DEFAULT_COMPONENTS = ("@method", "@target-uri", "content-digest")


def load_signing_key(data: bytes | str, password: bytes | None = None) -> PrivateKey:
    """A private key from PEM (PKCS#8, PKCS#1 ``RSA PRIVATE KEY`` or SEC1 ``EC PRIVATE
    KEY``, what ``openssl genrsa``/``genpkey``/``ecparam`` write)."""
    raw = data.encode() if isinstance(data, str) else data
    key = serialization.load_pem_private_key(raw, password=password)
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise ValueError("the key must be RSA, ECDSA or Ed25519")
    return key


def default_rfc9421_alg(key: PrivateKey) -> str:
    """RSA → rsa-pss-sha512, EC P-256 → ecdsa-p256-sha256, Ed25519 → ed25519."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa-pss-sha512"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("RFC 9421 defines ECDSA only on P-256 (ecdsa-p256-sha256)")
        return "ecdsa-p256-sha256"
    return "ed25519"


class DigitalSignatureAuth(httpx.Auth):
    """``X-Digital-Sign`` (Base64 of ``alg`` over the exact body bytes) and
    ``X-Digital-Sign-Alg``; the signer named by ``X-Digital-Sign-Login`` (raw, or Base64 of
    UTF-8 with ``login_encoding="base64"``) or ``X-Key-Id`` (``key_id``), or by the
    ``<terminal-id>`` of an XML body when neither is given."""

    requires_request_body = True

    def __init__(
        self,
        key: PrivateKey,
        alg: str = "SHA256withRSA",
        *,
        login: str | None = None,
        login_encoding: Literal["raw", "base64"] = "raw",
        key_id: str | None = None,
    ) -> None:
        if alg not in digital_sign.ALGORITHMS:
            raise ValueError(f"unknown algorithm {alg!r}; one of {sorted(digital_sign.ALGORITHMS)}")
        digital_sign.sign(alg, key, b"")  # a key that does not fit the algorithm fails here
        if login is not None and login_encoding == "base64":
            login = base64.b64encode(login.encode()).decode()
        if login is not None and not login.isprintable():
            raise ValueError("the login must be printable")
        self._key, self._alg, self._login, self._key_id = key, alg, login, key_id

    def headers_for(self, body: bytes) -> dict[str, str]:
        """The headers that sign ``body`` (what ``propusk sign`` prints)."""
        signature = digital_sign.sign(self._alg, self._key, body)
        headers = {
            "X-Digital-Sign": base64.b64encode(signature).decode(),
            "X-Digital-Sign-Alg": self._alg,
        }
        if self._login is not None:
            headers["X-Digital-Sign-Login"] = self._login
        if self._key_id is not None:
            headers["X-Key-Id"] = self._key_id
        return headers

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers_for(request.content))
        yield request

    def __repr__(self) -> str:
        return f"DigitalSignatureAuth(alg={self._alg!r}, login={self._login!r})"


class HttpMessageSignatureAuth(httpx.Auth):
    """RFC 9421: adds ``Content-Digest`` (when the body is not empty), then
    ``Signature-Input`` (``created``, ``keyid``, ``alg``, a fresh ``nonce``, optional
    ``expires``) and ``Signature`` over ``components``."""

    requires_request_body = True

    def __init__(
        self,
        key: PrivateKey,
        keyid: str,
        alg: str | None = None,
        components: Iterable[str] = DEFAULT_COMPONENTS,
        *,
        digest: Literal["sha-256", "sha-512"] = "sha-256",
        expires_in: int | None = None,
        label: str = "sig1",
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_urlsafe(16),
    ) -> None:
        alg = alg or default_rfc9421_alg(key)
        if alg not in ALGORITHMS:
            raise ValueError(f"unsupported RFC 9421 algorithm {alg!r}; one of {ALGORITHMS}")
        self._key, self._keyid, self._alg = key, keyid, alg
        self._components = tuple(components)
        self._digest, self._expires_in, self._label = digest, expires_in, label
        self._clock, self._nonce = clock, nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        body = request.content
        components = self._components
        if body:
            request.headers["Content-Digest"] = content_digest(body, [self._digest])
        elif "content-digest" not in request.headers:
            components = tuple(c for c in components if c != "content-digest")
        headers = {name: ", ".join(request.headers.get_list(name)) for name in request.headers}
        message = HttpMessage(request.method, str(request.url), headers)
        created = int(self._clock())
        signature_input, signature = sign_message(
            message,
            self._key,
            alg=self._alg,
            keyid=self._keyid,
            components=components,
            created=created,
            nonce=self._nonce(),
            expires=created + self._expires_in if self._expires_in else None,
            label=self._label,
        )
        request.headers["Signature-Input"] = signature_input
        request.headers["Signature"] = signature
        yield request

    def __repr__(self) -> str:
        return f"HttpMessageSignatureAuth(keyid={self._keyid!r}, alg={self._alg!r})"
