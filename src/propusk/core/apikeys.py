"""Managed API keys: ``propusk_<key_id>_<secret>``.

The prefix lets secret scanners recognise a leaked key; the key id (16 hex characters) is
the public handle used to find the record; the secret is 256 random bits (64 hex
characters). Only HMAC-SHA256(pepper, secret) is stored, and comparison is constant-time.
Randomness and the pepper are parameters: the core takes neither.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

__all__ = [
    "KEY_PREFIX",
    "ParsedApiKey",
    "api_key_digest",
    "digest_matches",
    "make_api_key",
    "parse_api_key",
]

KEY_PREFIX = "propusk_"
KEY_ID_BYTES = 8
SECRET_BYTES = 32
_FORMAT = re.compile(r"propusk_([0-9a-f]{16})_([0-9a-f]{64})")
MAX_KEY_CHARS = len(KEY_PREFIX) + 16 + 1 + 64


@dataclass(frozen=True)
class ParsedApiKey:
    key_id: str
    secret: str = field(repr=False)  # never in a log line by accident

    @property
    def last4(self) -> str:
        return self.secret[-4:]

    def __str__(self) -> str:
        return f"{KEY_PREFIX}{self.key_id}_{self.secret}"


def make_api_key(key_id_random: bytes, secret_random: bytes) -> ParsedApiKey:
    if len(key_id_random) != KEY_ID_BYTES or len(secret_random) != SECRET_BYTES:
        raise ValueError("an API key needs 8 random bytes of id and 32 of secret")
    return ParsedApiKey(key_id_random.hex(), secret_random.hex())


def parse_api_key(text: str) -> ParsedApiKey | None:
    """The parts of a well-formed key, or None for anything else (never raises)."""
    if len(text) != MAX_KEY_CHARS:
        return None
    match = _FORMAT.fullmatch(text)
    if match is None:
        return None
    return ParsedApiKey(match.group(1), match.group(2))


def api_key_digest(pepper: bytes, secret: str) -> str:
    return hmac.new(pepper, secret.encode("ascii"), hashlib.sha256).hexdigest()


def digest_matches(pepper: bytes, secret: str, stored: str) -> bool:
    """Constant-time comparison of the secret's digest with the stored one."""
    return hmac.compare_digest(api_key_digest(pepper, secret), stored)
