"""Opaque secrets Propusk hands out (refresh tokens, e-mail codes) and their stored digests.

Every secret carries a recognizable prefix (``propusk_rt_…``) so secret scanners can find
leaks. Only the SHA-256 digest is stored: the secrets are 256-bit random values, so a fast
hash is enough — there is nothing to brute-force.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["SECRET_BYTES", "digest", "make_secret", "successor_secret"]

SECRET_BYTES = 32


def make_secret(prefix: str, random_bytes: bytes) -> str:
    if len(random_bytes) < SECRET_BYTES:
        raise ValueError("a secret needs at least 32 random bytes")
    return prefix + base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode("ascii")


def digest(secret: str) -> str:
    """Hex SHA-256 of the secret's UTF-8 bytes: what the database keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def successor_secret(prefix: str, key: bytes, parent: str) -> str:
    """The secret that replaces ``parent`` when it is rotated: HMAC-SHA256 of the parent
    under a server key, so whoever presents the parent again gets the *same* successor
    (a concurrent duplicate of one rotation), and nobody without the parent can compute it.
    """
    if len(key) < SECRET_BYTES:
        raise ValueError("the successor key needs at least 32 bytes")
    mac = hmac.new(key, b"propusk successor\x00" + parent.encode("utf-8"), hashlib.sha256)
    return make_secret(prefix, mac.digest())
