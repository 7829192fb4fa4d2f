"""RSA key material: serialization in the formats the wire contracts use, and key ids."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

__all__ = [
    "load_private_der",
    "private_key_der",
    "public_key_der",
    "public_key_spki_b64",
    "rsa_kid",
]


def private_key_der(key: rsa.RSAPrivateKey) -> bytes:
    """DER PKCS#8, unencrypted (it is sealed with the master key before storage)."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_der(der: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def public_key_der(key: rsa.RSAPublicKey) -> bytes:
    """DER SubjectPublicKeyInfo."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_spki_b64(key: rsa.RSAPublicKey) -> str:
    """Standard Base64 of the DER SubjectPublicKeyInfo: a Waves node's ``public-key`` format."""
    return base64.b64encode(public_key_der(key)).decode("ascii")


def rsa_kid(key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): stable and derived from the key."""
    return RSAKey.import_key(key).thumbprint()
