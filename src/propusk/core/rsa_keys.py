"""Public keys that partners upload, checked before they are stored."""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from propusk.core.errors import InvalidRequest

__all__ = ["MAX_PEM_BYTES", "load_rsa_public_pem"]

MAX_PEM_BYTES = 16384
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192


def load_rsa_public_pem(text: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1 "RSA PUBLIC KEY"),
    2048 to 8192 bits with a sane exponent; anything else is refused with a clear message."""
    data = text.strip().encode("ascii", "replace")
    if len(data) > MAX_PEM_BYTES:
        raise InvalidRequest("publicKeyPem is too large")
    try:
        # load_pem_public_key reads both SubjectPublicKeyInfo and PKCS#1 armour.
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidRequest("publicKeyPem is not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidRequest("service keys are RSA keys (SHA512withRSA)")
    if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
        raise InvalidRequest(f"RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits")
    exponent = key.public_numbers().e
    if exponent < 3 or exponent % 2 == 0:
        raise InvalidRequest("the RSA public exponent is not acceptable")
    return key
