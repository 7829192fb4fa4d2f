from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from propusk.core.errors import InvalidRequest
from propusk.core.identifiers import check_address, check_locale, check_source, normalize_email
from propusk.core.opaque import digest, make_secret, successor_secret


def test_secret_has_prefix_and_256_bits() -> None:
    secret = make_secret("propusk_rt_", bytes(32))
    assert secret == "propusk_rt_" + "A" * 43
    with pytest.raises(ValueError, match="32 random bytes"):
        make_secret("propusk_rt_", bytes(16))


def test_digest_known_answer() -> None:
    # SHA-256("abc"), FIPS 180-2 appendix B.1
    assert digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (" Alice@Example.COM ", "alice@example.com"),
        ("a.b+c@sub.example.org", "a.b+c@sub.example.org"),
    ],
)
def test_email_normalized(raw: str, normal: str) -> None:
    assert normalize_email(raw) == normal


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "no-at",
        "a@b",
        "a@@b.c",
        "a b@c.d",
        "a@b .c",
        "x" * 65 + "@b.c",
        "a@" + "b" * 320 + ".c",
        "a\x00@b.c",
        "a@b.c\nx@y.z",
    ],
)
def test_bad_emails(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        normalize_email(bad)


def test_locale_source_address() -> None:
    assert check_locale("ru") == "ru"
    assert check_source("voting") == "voting"
    assert (
        check_address("3NBVqYXrapgJP9atQccdBPAgJPwHDKkh6A3")
        == "3NBVqYXrapgJP9atQccdBPAgJPwHDKkh6A3"
    )
    for call, bad in [
        (check_locale, "de"),
        (check_source, ""),
        (check_source, "a b"),
        (check_source, "x" * 65),
        (check_address, ""),
        (check_address, "a/b"),
        (check_address, "x" * 129),
    ]:
        with pytest.raises(InvalidRequest):
            call(bad)


def test_successor_secret_is_one_per_parent_and_key() -> None:
    key, other = b"k" * 32, b"o" * 32
    parent = "propusk_rt_" + "A" * 43
    first = successor_secret("propusk_rt_", key, parent)
    assert first == successor_secret("propusk_rt_", key, parent)  # the same every time
    assert first.startswith("propusk_rt_") and len(first) == len(parent)
    assert first != successor_secret("propusk_rt_", other, parent)  # keyed
    assert first != successor_secret("propusk_rt_", key, parent[:-1] + "B")
    # Known answer: HMAC-SHA256(key, b"propusk successor\0" + parent), unpadded Base64url.
    mac = hmac.new(key, b"propusk successor\x00" + parent.encode(), hashlib.sha256).digest()
    assert first == "propusk_rt_" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(ValueError, match="32 bytes"):
        successor_secret("propusk_rt_", b"short", parent)
