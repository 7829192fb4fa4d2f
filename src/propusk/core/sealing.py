"""Encryption at rest for server key material (AES-256-GCM under the master key).

A sealed blob is ``b"PS1" || nonce(12) || ciphertext+tag``. The associated data binds a
blob to what it is (for example ``b"server-key:<kid>"``) so a blob cannot be swapped for
another row's. The nonce is a parameter: the core takes no randomness.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["MASTER_KEY_BYTES", "NONCE_BYTES", "SealError", "decode_master_key", "open_", "seal"]

MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
_MAGIC = b"PS1"


class SealError(Exception):
    """A sealed blob could not be opened: wrong master key, tampering, or garbage."""


def decode_master_key(text: str) -> bytes:
    """Decode a master key given as URL-safe Base64 (padding optional) of 32 bytes."""
    raw = text.strip()
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the master key is not valid Base64") from exc
    if len(key) != MASTER_KEY_BYTES:
        raise ValueError(f"the master key must be {MASTER_KEY_BYTES} bytes, got {len(key)}")
    return key


def seal(master_key: bytes, plaintext: bytes, *, nonce: bytes, context: bytes) -> bytes:
    if len(nonce) != NONCE_BYTES:
        raise ValueError("nonce must be 12 bytes")
    return _MAGIC + nonce + AESGCM(master_key).encrypt(nonce, plaintext, context)


def open_(master_key: bytes, blob: bytes, *, context: bytes) -> bytes:
    if len(blob) < len(_MAGIC) + NONCE_BYTES + 16 or not blob.startswith(_MAGIC):
        raise SealError("not a sealed blob")
    nonce = blob[len(_MAGIC) : len(_MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(master_key).decrypt(nonce, blob[len(_MAGIC) + NONCE_BYTES :], context)
    except InvalidTag as exc:
        raise SealError("the blob does not open with this master key") from exc
