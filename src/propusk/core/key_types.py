"""The asymmetric key types request signatures are made and checked with: RSA, ECDSA and
Ed25519, for ``X-Digital-Sign`` (:mod:`propusk.core.digital_sign`) and RFC 9421
(:mod:`propusk.core.http_signatures`) alike. Anything else (DSA, X25519, …) is not one."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = ["PrivateKey", "PublicKey"]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
