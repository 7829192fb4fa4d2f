from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from propusk.core.errors import InvalidRequest
from propusk.core.passwords import PasswordPolicy

FAST = PasswordPolicy(time_cost=1, memory_cost_kib=1024)
SALT = bytes(range(16))


def test_defaults_are_owasp_argon2id() -> None:
    encoded = PasswordPolicy().hash("correct horse", SALT)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_hash_is_deterministic_for_a_salt_and_verifies_independently() -> None:
    a = FAST.hash("correct horse", SALT)
    assert a == FAST.hash("correct horse", SALT)
    assert a != FAST.hash("correct horse", bytes(16))
    # argon2-cffi's own high-level verifier accepts it: the encoding is standard.
    assert PasswordHasher().verify(a, "correct horse")


def test_verify() -> None:
    encoded = FAST.hash("correct horse", SALT)
    assert FAST.verify(encoded, "correct horse")
    assert not FAST.verify(encoded, "correct horsE")
    assert not FAST.verify("not-a-hash", "correct horse")


def test_length_limits() -> None:
    with pytest.raises(InvalidRequest):
        FAST.hash("short", SALT)
    with pytest.raises(InvalidRequest):
        FAST.hash("x" * 1025, SALT)
    # Multi-byte characters count in bytes: 400 x 3 bytes > 1024.
    with pytest.raises(InvalidRequest):
        FAST.hash("ж" * 400 + "€" * 100, SALT)
    encoded = FAST.hash("x" * 1024, SALT)
    assert FAST.verify(encoded, "x" * 1024)
    assert not FAST.verify(encoded, "x" * 100_000)


def test_needs_rehash_when_parameters_change() -> None:
    encoded = FAST.hash("correct horse", SALT)
    assert not FAST.needs_rehash(encoded)
    assert PasswordPolicy().needs_rehash(encoded)
    assert FAST.needs_rehash("garbage")


def test_short_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="salt"):
        FAST.hash("correct horse", b"short")
