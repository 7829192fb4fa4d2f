"""Helpers for signing-key tests: partner keys, and requests signed as partners sign them."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from propusk.core import digital_sign

KEYS = "/v1/orgs/{org}/signing-keys"
TOPUP = "/demo/payments/topup"
# One RSA-2048 pair per test session: generation is the slow part.
PARTNER = rsa.generate_private_key(65537, 2048)
OTHER = rsa.generate_private_key(65537, 2048)


def public_pem(key: digital_sign.PrivateKey = PARTNER) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def xml_body(terminal: str = "10001", password: str | None = None, extra: str = "") -> bytes:
    secret = f'<extra name="password">{password}</extra>' if password is not None else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><request><request-type>pay</request-type>'
        f"<terminal-id>{terminal}</terminal-id>{secret}{extra}</request>"
    ).encode()


def signed(
    body: bytes,
    alg: str = "SHA256withRSA",
    key: digital_sign.PrivateKey = PARTNER,
    **headers: str,
) -> dict[str, str]:
    signature = base64.b64encode(digital_sign.sign(alg, key, body)).decode()
    out = {"X-Digital-Sign": signature, "X-Digital-Sign-Alg": alg, "Content-Type": "text/xml"}
    out.update({k.replace("_", "-"): v for k, v in headers.items()})
    return out


async def new_signing_key(
    client: httpx.AsyncClient, owner: dict[str, str], org: str, **body: Any
) -> dict[str, Any]:
    payload = {
        "name": "partner",
        "publicKeyPem": public_pem(),
        "methods": ["payments.topup"],
        "appIds": [],
        **body,
    }
    r = await client.post(KEYS.format(org=org), json=payload, headers=owner)
    assert r.status_code == 201, r.text
    return dict(r.json())
