from __future__ import annotations

import base64

import pytest

from propusk.core.sealing import SealError, decode_master_key, open_, seal

KEY = bytes(range(32))
NONCE = bytes(12)


def test_round_trip_and_format() -> None:
    blob = seal(KEY, b"secret material", nonce=NONCE, context=b"server-key:a")
    assert blob.startswith(b"PS1" + NONCE)
    assert b"secret material" not in blob
    assert open_(KEY, blob, context=b"server-key:a") == b"secret material"


@pytest.mark.parametrize(
    ("key", "context", "mangle"),
    [
        (bytes(32), b"server-key:a", lambda b: b),
        (KEY, b"server-key:b", lambda b: b),
        (KEY, b"server-key:a", lambda b: b[:-1] + bytes([b[-1] ^ 1])),
        (KEY, b"server-key:a", lambda b: b"XX1" + b[3:]),
        (KEY, b"server-key:a", lambda b: b[:20]),
    ],
    ids=["wrong-key", "wrong-context", "tampered", "bad-magic", "truncated"],
)
def test_refusals(key: bytes, context: bytes, mangle: object) -> None:
    blob = seal(KEY, b"secret", nonce=NONCE, context=b"server-key:a")
    with pytest.raises(SealError):
        open_(key, mangle(blob), context=context)  # type: ignore[operator]


def test_decode_master_key() -> None:
    text = base64.urlsafe_b64encode(KEY).decode()
    assert decode_master_key(text) == KEY
    assert decode_master_key(text.rstrip("=") + "\n") == KEY
    with pytest.raises(ValueError, match="32 bytes"):
        decode_master_key(base64.urlsafe_b64encode(bytes(16)).decode())
    with pytest.raises(ValueError, match="Base64"):
        decode_master_key("***")
