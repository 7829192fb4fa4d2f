"""The SDK's signed-request flows, checked by independent verifiers: ``openssl dgst -verify``
for ``DigitalSignatureAuth``, Propusk's RFC 9421 core and the ``http-message-signatures``
library for ``HttpMessageSignatureAuth``; sync and async clients, streamed bodies."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x448
from http_message_signatures import HTTPMessageVerifier, MappingKeyResolver, algorithms
from http_message_signatures._messages import _Request

from propusk.client import DigitalSignatureAuth, HttpMessageSignatureAuth, load_signing_key
from propusk.core.http_signatures import (
    HttpMessage,
    PrivateKey,
    parse_signature,
    verify_signature,
)
from tests.integration.servers import need

RSA_KEY = rsa.generate_private_key(65537, 2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
BODY = b"<request><terminal-id>10001</terminal-id><amount>1.00</amount></request>"
NOW = 1_800_000_000


class Captured:
    """The transport: answers 200 and keeps each request as it went over the wire."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True})


def chunks() -> Iterator[bytes]:
    yield BODY[:10]
    yield BODY[10:]


async def achunks() -> AsyncIterator[bytes]:
    yield BODY[:10]
    yield BODY[10:]


def send_both(
    auth: httpx.Auth, url: str = "https://api.example/demo/payments/topup"
) -> list[httpx.Request]:
    """The same POST with a streamed body through httpx.Client and httpx.AsyncClient."""
    import asyncio

    captured = Captured()
    with httpx.Client(transport=httpx.MockTransport(captured), auth=auth) as http:
        assert http.post(url, content=chunks()).status_code == 200

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(captured), auth=auth) as http:
            assert (await http.post(url, content=achunks())).status_code == 200

    asyncio.run(run())
    return captured.requests


def pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.external
@pytest.mark.parametrize(
    ("key", "alg", "digest"),
    [
        (RSA_KEY, "SHA256withRSA", "-sha256"),
        (RSA_KEY, "SHA1withRSA", "-sha1"),
        (RSA_KEY, "SHA512withRSA/PSS", "-sha512"),
        (EC_KEY, "SHA256withECDSA", "-sha256"),
    ],
)
def test_digital_signature_verifies_with_openssl(
    tmp_path: Path, key: PrivateKey, alg: str, digest: str
) -> None:
    openssl = need("openssl", "openssl")
    public = tmp_path / "public.pem"
    public.write_bytes(pem(key))
    body = tmp_path / "body.xml"
    body.write_bytes(BODY)
    for request in send_both(DigitalSignatureAuth(key, alg, login="shop-1")):
        assert request.content == BODY
        assert request.headers["X-Digital-Sign-Alg"] == alg
        assert request.headers["X-Digital-Sign-Login"] == "shop-1"
        signature = tmp_path / "sig.bin"
        signature.write_bytes(base64.b64decode(request.headers["X-Digital-Sign"], validate=True))
        extra = (
            ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-2"]
            if "PSS" in alg
            else []
        )
        done = subprocess.run(
            [openssl, "dgst", digest, *extra, "-verify", public, "-signature", signature, body],
            capture_output=True,
            check=False,
        )
        assert done.stdout.strip() == b"Verified OK", done.stderr


def test_digital_signature_options() -> None:
    auth = DigitalSignatureAuth(RSA_KEY, login="магазин", login_encoding="base64", key_id="sk-1")
    headers = auth.headers_for(BODY)
    assert base64.b64decode(headers["X-Digital-Sign-Login"]).decode() == "магазин"
    assert headers["X-Key-Id"] == "sk-1"
    assert headers["X-Digital-Sign-Alg"] == "SHA256withRSA"
    with pytest.raises(ValueError, match="unknown algorithm"):
        DigitalSignatureAuth(RSA_KEY, "SHA256withDSA")
    with pytest.raises(ValueError, match="does not work"):
        DigitalSignatureAuth(ED_KEY, "SHA256withRSA")
    assert "BEGIN" not in repr(auth)


def verify_rfc9421(request: httpx.Request, key: PrivateKey, alg: str) -> None:
    headers = {name: ", ".join(request.headers.get_list(name)) for name in request.headers}
    sig = parse_signature(headers["signature-input"], headers["signature"])
    message = HttpMessage(request.method, str(request.url), headers)
    verified = verify_signature(
        sig, message, key.public_key(), alg=alg, body=request.content, now=NOW
    )
    assert verified.keyid == "sk-7" and verified.nonce


@pytest.mark.parametrize(
    ("key", "alg"),
    [(RSA_KEY, "rsa-pss-sha512"), (EC_KEY, "ecdsa-p256-sha256"), (ED_KEY, "ed25519")],
)
def test_http_message_signature_verifies_with_the_core(key: PrivateKey, alg: str) -> None:
    auth = HttpMessageSignatureAuth(key, "sk-7", clock=lambda: NOW)
    requests = send_both(auth)
    nonces = set()
    for request in requests:
        assert request.content == BODY
        assert request.headers["content-digest"].startswith("sha-256=:")
        assert f'alg="{alg}"' in request.headers["signature-input"]
        verify_rfc9421(request, key, alg)
        nonces.add(
            parse_signature(
                request.headers["signature-input"], request.headers["signature"]
            ).params["nonce"]
        )
    assert len(nonces) == 2  # a fresh nonce per request


def test_http_message_signature_options_and_bodyless_requests() -> None:
    auth = HttpMessageSignatureAuth(
        RSA_KEY, "sk-7", alg="rsa-v1_5-sha256", digest="sha-512", expires_in=30, clock=lambda: NOW
    )
    (post, *_) = send_both(auth)
    assert post.headers["content-digest"].startswith("sha-512=:")
    assert f";expires={NOW + 30};" in post.headers["signature-input"]
    verify_rfc9421(post, RSA_KEY, "rsa-v1_5-sha256")
    captured = Captured()
    with httpx.Client(transport=httpx.MockTransport(captured), auth=auth) as http:
        http.get("https://api.example/demo/reports?from=2024-01-01&to=2024-02-01")
    (get,) = captured.requests
    assert "content-digest" not in get.headers
    assert get.headers["signature-input"].startswith('sig1=("@method" "@target-uri");')
    verify_rfc9421(get, RSA_KEY, "rsa-v1_5-sha256")
    with pytest.raises(ValueError, match="unsupported"):
        HttpMessageSignatureAuth(RSA_KEY, "k", alg="hmac-sha256")
    with pytest.raises(ValueError, match="P-256"):
        HttpMessageSignatureAuth(ec.generate_private_key(ec.SECP384R1()), "k")


def test_http_message_signature_verifies_with_the_independent_library() -> None:
    (request, _) = send_both(HttpMessageSignatureAuth(ED_KEY, "sk-7"))
    resolver = MappingKeyResolver(public_keys={"sk-7": ED_KEY.public_key()}, private_keys={})
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    message = _Request(request.method, str(request.url), dict(request.headers.items()))
    (result,) = verifier.verify(
        message, body=request.content, require_components=("@method", "@target-uri")
    )
    assert result.body == BODY
    assert result.parameters["keyid"] == "sk-7"


def test_load_signing_key_reads_openssl_formats() -> None:
    for key in (RSA_KEY, EC_KEY):
        traditional = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        assert load_signing_key(traditional).public_key() == key.public_key()
    pkcs8 = ED_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert load_signing_key(pkcs8.decode()).public_key() == ED_KEY.public_key()
    with pytest.raises(ValueError, match="Could not deserialize"):
        load_signing_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    x448_pem = x448.X448PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="RSA, ECDSA or Ed25519"):
        load_signing_key(x448_pem)
