"""Access tokens: round trip, and a table of tokens that must be refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from propusk.core.errors import InvalidToken, TokenExpired
from propusk.core.tokens import UnknownKeyId, issue_access_token, verify_access_token

ISSUER = "https://auth.example"
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="module")
def key(private: rsa.RSAPrivateKey) -> RSAKey:
    return RSAKey.import_key(private, {"kid": "k1"})


@pytest.fixture(scope="module")
def other_key() -> RSAKey:
    return RSAKey.import_key(rsa.generate_private_key(65537, 2048), {"kid": "k1"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def issue(key: RSAKey, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "subject": "acct-1",
        "roles": ["user", "admin"],
        "addresses": [{"address": "3Nabc", "type": "node", "name": "n1"}],
        "issuer": ISSUER,
        "issued_at": NOW,
        "ttl": 900,
        "jti": "jti-1",
    }
    args.update(overrides)
    return issue_access_token(key, **args)


def verify(token: str, key: RSAKey, now: int = NOW + 10) -> Any:
    return verify_access_token(token, {"k1": key}, issuer=ISSUER, now=now)


def test_round_trip(key: RSAKey) -> None:
    token = issue(key)
    header = json.loads(unb64(token.split(".")[0]))
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
    claims = verify(token, key)
    assert claims.subject == "acct-1"
    assert claims.roles == ("user", "admin")
    assert claims.addresses == ({"address": "3Nabc", "type": "node", "name": "n1"},)
    assert (claims.issued_at, claims.expires_at) == (NOW, NOW + 900)
    assert claims.jti == "jti-1" and claims.issuer == ISSUER and claims.kid == "k1"


def test_expired_token_is_refused_after_exp(key: RSAKey) -> None:
    token = issue(key)
    verify(token, key, now=NOW + 899)
    with pytest.raises(TokenExpired):
        verify(token, key, now=NOW + 901)


def test_unknown_kid_is_its_own_error(key: RSAKey) -> None:
    with pytest.raises(UnknownKeyId):
        verify_access_token(issue(key), {"other": key}, issuer=ISSUER, now=NOW)


def _resign_hs256_with_public_key(token: str, private: rsa.RSAPrivateKey) -> str:
    """The classic algorithm-confusion attack: HMAC keyed with the RSA public key PEM."""
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, payload, _ = token.split(".")
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def _alg_none(token: str, _key: rsa.RSAPrivateKey) -> str:
    _, payload, _ = token.split(".")
    header = b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    return f"{header}.{payload}."


def _tamper_payload(token: str, _: rsa.RSAPrivateKey) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["roles"] = ["user", "admin", "privacy"]
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def _tamper_signature(token: str, _: rsa.RSAPrivateKey) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(unb64(signature))
    raw[10] ^= 0x01
    return f"{header}.{payload}.{b64(bytes(raw))}"


def _strip_signature(token: str, _key: rsa.RSAPrivateKey) -> str:
    header, payload, _ = token.split(".")
    return f"{header}.{payload}."


MANGLERS: dict[str, Callable[[str, rsa.RSAPrivateKey], str]] = {
    "hs256-confusion": _resign_hs256_with_public_key,
    "alg-none": _alg_none,
    "tampered-payload": _tamper_payload,
    "tampered-signature": _tamper_signature,
    "no-signature": _strip_signature,
    "two-parts": lambda t, _: ".".join(t.split(".")[:2]),
    "four-parts": lambda t, _: t + ".x",
    "garbage": lambda t, _: "not-a-token",
    "empty": lambda t, _: "",
    "non-ascii": lambda t, _: t[:-4] + "ййй",
    "oversized": lambda t, _: t + "A" * 9000,
    "header-not-json": lambda t, _: b64(b"{not json") + "." + t.split(".", 1)[1],
}


@pytest.mark.parametrize("mangle", list(MANGLERS.values()), ids=list(MANGLERS))
def test_mangled_tokens_are_refused(
    key: RSAKey, private: rsa.RSAPrivateKey, mangle: Callable[[str, rsa.RSAPrivateKey], str]
) -> None:
    with pytest.raises(InvalidToken):
        verify(mangle(issue(key), private), key)


def test_token_of_another_key_with_same_kid_is_refused(key: RSAKey, other_key: RSAKey) -> None:
    with pytest.raises(InvalidToken):
        verify(issue(other_key), key)


def test_wrong_issuer_is_refused(key: RSAKey) -> None:
    with pytest.raises(InvalidToken):
        verify(issue(key, issuer="https://evil.example"), key)


@pytest.mark.parametrize(
    "extra",
    [{"roles": "admin"}, {"roles": [1]}, {"addresses": ["x"]}, {"sub": 5}],
    ids=["roles-string", "roles-ints", "addresses-strings", "sub-int"],
)
def test_claims_of_wrong_type_are_refused(key: RSAKey, extra: dict[str, Any]) -> None:
    # Sign a token whose claims have the wrong shape with the right key: the signature is
    # valid, so only claim validation can refuse it.
    from joserfc import jwt

    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "a",
        "roles": [],
        "addresses": [],
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "j",
    }
    claims.update(extra)
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
    with pytest.raises(InvalidToken):
        verify(token, key)


def test_missing_exp_is_refused(key: RSAKey) -> None:
    from joserfc import jwt

    claims = {"iss": ISSUER, "sub": "a", "roles": [], "addresses": [], "iat": NOW, "jti": "j"}
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
    with pytest.raises(InvalidToken):
        verify(token, key)
