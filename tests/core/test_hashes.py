"""Waves-compatible hashes: the spec's known answers, the Keccak variant, Base58."""

from __future__ import annotations

import hashlib

import pytest

from propusk.core.hashes import (
    HASH_SIZE,
    base58_decode,
    base58_encode,
    fast_hash,
    keccak256,
    secure_hash,
)

# spec/seed-protocols.md section 2; the first is the default in a node's configuration.
SECURE_VECTORS = [
    ("ridethewaves!", "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"),
    ("1", "FX9aLVV4zJLjHAAuCXnTqdswEgEBSobnp2Tw7mHsDDcs"),
]
FAST_VECTORS = [("1", "At4g9WwxbM9kDbhzSpWy7YvshzPV9MX5FbatAt43amZ4")]


@pytest.mark.parametrize(("message", "expected"), SECURE_VECTORS)
def test_secure_hash_vectors(message: str, expected: str) -> None:
    digest = secure_hash(message.encode("utf-8"))
    assert len(digest) == HASH_SIZE
    assert base58_encode(digest) == expected


@pytest.mark.parametrize(("message", "expected"), FAST_VECTORS)
def test_fast_hash_vectors(message: str, expected: str) -> None:
    assert base58_encode(fast_hash(message.encode("utf-8"))) == expected
    assert fast_hash(b"1") == hashlib.blake2b(b"1", digest_size=32).digest()


def test_keccak_is_the_original_not_sha3() -> None:
    # Known answer of the original Keccak-256 (Ethereum's): the empty string.
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert hashlib.sha3_256(b"").hexdigest() != keccak256(b"").hex()
    # And SHA3-256 in secureHash would miss the spec's vector: the test proves the variant.
    for message, expected in SECURE_VECTORS:
        inner = fast_hash(message.encode())
        assert base58_encode(hashlib.sha3_256(inner).digest()) != expected
        assert base58_encode(keccak256(inner)) == expected


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", ""),
        (b"\x00", "1"),
        (b"\x00\x00\x00", "111"),
        (b"\x00\x00\x01", "112"),
        (b"\x00\xff", "15Q"),
        (b"hello world", "StV1DL6CwTryKyV"),
    ],
)
def test_base58_round_trip_with_leading_zeros(raw: bytes, text: str) -> None:
    assert base58_encode(raw) == text
    assert base58_decode(text) == raw


def test_base58_round_trip_of_hashes() -> None:
    for size in range(40):
        raw = bytes(size // 3) + hashlib.sha256(bytes([size])).digest()[: size - size // 3]
        assert base58_decode(base58_encode(raw)) == raw


@pytest.mark.parametrize("bad", ["0", "O", "I", "l", "abc+", "é", " 1", "H6ns\n"])
def test_base58_decode_refuses_characters_outside_the_alphabet(bad: str) -> None:
    with pytest.raises(ValueError, match="Base58"):
        base58_decode(bad)
