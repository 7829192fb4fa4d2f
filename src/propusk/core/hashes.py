"""Waves-compatible hashes and Base58 (spec section 2, "API-key mode").

A Waves Enterprise node stores its API keys as ``Base58(secureHash(key))``:

- ``fastHash(x) = Blake2b-256(x)``;
- ``secureHash(x) = Keccak-256(Blake2b-256(x))``, where Keccak-256 is the **original**
  Keccak submission (padding byte ``0x01``) that Ethereum also uses, **not** the
  standardized SHA3-256 (padding ``0x06``). The two differ in every output bit, so using
  ``hashlib.sha3_256`` here would silently reject every key a node operator configured.

The standard library has no original Keccak, so pycryptodome's ``Crypto.Hash.keccak``
provides it; Base58 (the Bitcoin alphabet) comes from the ``base58`` package.
"""

from __future__ import annotations

import hashlib

import base58
from Crypto.Hash import keccak

__all__ = [
    "BASE58_ALPHABET",
    "HASH_SIZE",
    "base58_decode",
    "base58_encode",
    "fast_hash",
    "keccak256",
    "secure_hash",
]

HASH_SIZE = 32
BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def fast_hash(data: bytes) -> bytes:
    """Blake2b with a 256-bit digest (``hashlib.blake2b(digest_size=32)``, no key)."""
    return hashlib.blake2b(data, digest_size=HASH_SIZE).digest()


def keccak256(data: bytes) -> bytes:
    """The original Keccak-256 (padding ``0x01``); not SHA3-256."""
    return keccak.new(data=data, digest_bits=256).digest()


def secure_hash(data: bytes) -> bytes:
    """``Keccak-256(Blake2b-256(data))``: the hash a node's ``api-key-hash`` holds."""
    return keccak256(fast_hash(data))


def base58_encode(data: bytes) -> str:
    """Base58 with the Bitcoin alphabet; each leading zero byte becomes a ``1``."""
    return base58.b58encode(data).decode("ascii")


def base58_decode(text: str) -> bytes:
    """Decode Base58 (Bitcoin alphabet); raise ``ValueError`` on any other character."""
    if any(c not in BASE58_ALPHABET for c in text):
        # Checked here so that the error never depends on the library's wording, and so
        # that non-ASCII input is refused with ValueError too.
        raise ValueError("not Base58 (Bitcoin alphabet)")
    return base58.b58decode(text.encode("ascii"))
