"""RFC 8705 certificate binding: the thumbprint (against OpenSSL), the cnf claim in both
token formats, and a table of cnf values that must refuse the token."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.jwk import RSAKey

from propusk.core.cnf import cnf_claim, read_cnf, same_thumbprint, x5t_s256
from propusk.core.errors import InvalidToken
from propusk.core.pki import thumbprint as pki_thumbprint
from propusk.core.service_tokens import ServiceTokenDecryptor, issue_service_token
from propusk.core.tokens import issue_access_token, verify_access_token

VECTORS = Path(__file__).parents[1] / "vectors" / "mtls"
ISSUER = "https://auth.example"
NOW = 1_800_000_000
THUMB = "lNuQ705OXQ3ZGPEuln5PuqDC86G3I2-mUCr6WDQe0QI"


def vector_der() -> bytes:
    cert = x509.load_pem_x509_certificate((VECTORS / "client.pem").read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


def test_thumbprint_matches_openssl() -> None:
    expected = (VECTORS / "client.x5t-s256").read_text().strip()
    assert x5t_s256(vector_der()) == expected == THUMB


def test_the_cas_thumbprint_is_the_same_function() -> None:
    # Certificates.principal_for fills Principal.cert_thumbprint with core.pki.thumbprint;
    # bound tokens carry core.cnf.x5t_s256: they must agree byte for byte.
    cert = x509.load_pem_x509_certificate((VECTORS / "client.pem").read_bytes())
    assert pki_thumbprint(cert) == x5t_s256(vector_der())


def test_same_thumbprint() -> None:
    der = vector_der()
    assert same_thumbprint(THUMB, der)
    assert not same_thumbprint(THUMB, der + b"\x00")
    assert not same_thumbprint(THUMB, None)


def test_cnf_claim_shape() -> None:
    assert cnf_claim(THUMB) == {"x5t#S256": THUMB}


@pytest.mark.parametrize("bad", ["", "short", THUMB + "A", THUMB[:-1] + "=", THUMB[:-1] + "+"])
def test_cnf_claim_refuses_what_is_not_a_thumbprint(bad: str) -> None:
    with pytest.raises(ValueError, match="43 base64url"):
        cnf_claim(bad)


def test_read_cnf_absent_is_unbound() -> None:
    assert read_cnf({"sub": "x"}) is None
    assert read_cnf({"cnf": {"x5t#S256": THUMB}}) == THUMB


@pytest.mark.parametrize(
    "cnf",
    [
        None,
        "x",
        [THUMB],
        {},
        {"x5t": THUMB},
        {"x5t#S256": 1},
        {"x5t#S256": THUMB[:-1]},
        {"x5t#S256": THUMB[:-1] + "é"},
        {"jkt": THUMB},
    ],
)
def test_read_cnf_refuses_unreadable_binding(cnf: object) -> None:
    # A token that says it is bound must never pass as an unbound one.
    with pytest.raises(InvalidToken):
        read_cnf({"cnf": cnf})


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.import_key(rsa.generate_private_key(65537, 2048), {"kid": "k1"})


def access(key: RSAKey, **extra: Any) -> str:
    return issue_access_token(
        key,
        subject="acct-1",
        roles=["user"],
        addresses=[],
        issuer=ISSUER,
        issued_at=NOW,
        ttl=900,
        jti="j1",
        extra=extra or None,
    )


def test_access_token_carries_the_binding(rsa_key: RSAKey) -> None:
    token = access(rsa_key, cnf=cnf_claim(THUMB))
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["cnf"] == {"x5t#S256": THUMB}
    claims = verify_access_token(token, {"k1": rsa_key}, issuer=ISSUER, now=NOW)
    assert claims.principal().cert_thumbprint == THUMB


def test_unbound_access_token_has_no_thumbprint(rsa_key: RSAKey) -> None:
    claims = verify_access_token(access(rsa_key), {"k1": rsa_key}, issuer=ISSUER, now=NOW)
    assert claims.principal().cert_thumbprint is None


def test_signed_access_token_with_broken_cnf_is_refused(rsa_key: RSAKey) -> None:
    claims = {"iss": ISSUER, "sub": "a", "iat": NOW, "exp": NOW + 60, "jti": "j", "cnf": "x"}
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, rsa_key, algorithms=["RS256"])
    with pytest.raises(InvalidToken):
        verify_access_token(token, {"k1": rsa_key}, issuer=ISSUER, now=NOW)


def service_token(key: bytes, thumbprint: str | None) -> str:
    return issue_service_token(
        key,
        "kid1",
        key_id="key-1",
        org_id="org-1",
        apps=["a1"],
        methods=["apps.read"],
        issuer=ISSUER,
        issued_at=NOW,
        ttl=900,
        jti="j1",
        generation=1,
        iv=secrets.token_bytes(12),
        cert_thumbprint=thumbprint,
    )


@pytest.mark.parametrize("thumbprint", [THUMB, None])
def test_service_token_round_trips_the_binding(thumbprint: str | None) -> None:
    key = AESGCM.generate_key(256)
    decryptor = ServiceTokenDecryptor({"kid1": key}, issuer=ISSUER)
    claims = decryptor.decrypt(service_token(key, thumbprint), now=NOW)
    assert claims.cert_thumbprint == thumbprint
    assert claims.principal().cert_thumbprint == thumbprint


def test_service_token_refuses_a_bad_thumbprint_at_issue() -> None:
    with pytest.raises(ValueError, match="43 base64url"):
        service_token(AESGCM.generate_key(256), "not-a-thumbprint")
