"""Service-key exchange pieces: timestamps, signature encodings, SHA512withRSA, the window."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from propusk.core.assertions import (
    MAX_TIMESTAMP_CHARS,
    decode_signature,
    exchange_message,
    parse_timestamp,
    verify_exchange_signature,
    within_window,
)
from propusk.core.errors import InvalidRequest

VECTORS = Path(__file__).parent.parent / "vectors" / "service_key"
KEY_ID = "123"
TIMESTAMP = "2024-06-18T11:49:08.290+03:00"
MSK = timezone(timedelta(hours=3))


@pytest.fixture(scope="module")
def test_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key((VECTORS / "test_key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="module")
def stored_signature() -> str:
    return (VECTORS / "signature_123.b64").read_text(encoding="ascii")


def sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA512())


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TIMESTAMP, datetime(2024, 6, 18, 11, 49, 8, 290000, tzinfo=MSK)),
        (  # .NET "o" format: 7 digits, truncated to microseconds
            "2022-07-08T13:24:41.8328711+03:00",
            datetime(2022, 7, 8, 13, 24, 41, 832871, tzinfo=MSK),
        ),
        ("2024-06-18T11:49:08Z", datetime(2024, 6, 18, 11, 49, 8, tzinfo=UTC)),
        ("2024-06-18T11:49:08.1Z", datetime(2024, 6, 18, 11, 49, 8, 100000, tzinfo=UTC)),
        ("2024-06-18T11:49:08.999999999Z", datetime(2024, 6, 18, 11, 49, 8, 999999, tzinfo=UTC)),
        ("2024-06-18T11:49:08.000+00:00", datetime(2024, 6, 18, 11, 49, 8, tzinfo=UTC)),
        ("2024-06-18T11:49:08-00:00", datetime(2024, 6, 18, 11, 49, 8, tzinfo=UTC)),
        (
            "2024-06-18T11:49:08.5-05:30",
            datetime(
                2024, 6, 18, 11, 49, 8, 500000, tzinfo=timezone(-timedelta(hours=5, minutes=30))
            ),
        ),
        (
            "2024-02-29T23:59:59+14:00",
            datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone(timedelta(hours=14))),
        ),
        (
            "2024-06-18T00:00:00+23:59",
            datetime(2024, 6, 18, tzinfo=timezone(timedelta(hours=23, minutes=59))),
        ),
    ],
)
def test_parse_timestamp_accepts(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_parse_timestamp_same_instant() -> None:
    assert parse_timestamp(TIMESTAMP) == parse_timestamp("2024-06-18T08:49:08.290Z")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "2024-06-18T11:49:08",  # naive
        "2024-06-18T11:49:08.290",  # naive with a fraction
        "2024-06-18 11:49:08+03:00",  # space instead of T
        "2024-06-18t11:49:08Z",  # lower-case t
        "2024-06-18T11:49:08z",  # lower-case z
        "2024-W25-2T11:49:08Z",  # week date
        "2024-170T11:49:08Z",  # ordinal date
        "20240618T114908Z",  # basic format
        "2024-06-18",  # date only
        "2024-06-18T11:49Z",  # no seconds
        "2024-06-18T11:49:08+0300",  # offset without colon
        "2024-06-18T11:49:08+03",  # hour-only offset
        "2024-06-18T11:49:08.Z",  # empty fraction
        "2024-06-18T11:49:08,290Z",  # comma fraction
        "2024-06-18T11:49:08.1234567890Z",  # 10 fraction digits
        "2024-06-18T11:49:08.290+03:00 ",  # trailing space
        " 2024-06-18T11:49:08.290+03:00",  # leading space
        "2024-06-18T11:49:08.290+03:00\n",  # trailing newline
        "2024-06-18T11:49:08Z[Europe/Moscow]",  # Java ZonedDateTime
        "+2024-06-18T11:49:08Z",  # expanded year
        "2024-13-18T11:49:08Z",  # month 13
        "2024-02-30T11:49:08Z",  # February 30
        "2023-02-29T11:49:08Z",  # not a leap year
        "0000-06-18T11:49:08Z",  # year 0
        "2024-06-18T24:00:00Z",  # hour 24
        "2024-06-18T11:60:08Z",  # minute 60
        "2024-06-18T23:59:60Z",  # leap second
        "2024-06-18T11:49:08+24:00",  # offset out of range
        "2024-06-18T11:49:08+03:60",  # offset minutes out of range
        "\uff12\uff10\uff12\uff14-06-18T11:49:08Z",  # full-width digits
        "\u0662\u0660\u0662\u0664-06-18T11:49:08Z",  # Arabic-Indic digits
        "2024-06-18T11:49:08." + "0" * 40 + "Z",  # over-long
        "x" * (MAX_TIMESTAMP_CHARS + 1),
        "2024-06-18T11:49:08\x00Z",
    ],
)
def test_parse_timestamp_refuses(text: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_timestamp(text)


def test_parse_timestamp_does_not_echo_input() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_timestamp("<script>")
    assert "<script>" not in caught.value.message


@pytest.mark.parametrize("value", [None, 1718700548, 1718700548.29, b"2024-06-18T11:49:08Z"])
def test_parse_timestamp_refuses_non_strings(value: object) -> None:
    with pytest.raises(InvalidRequest):
        parse_timestamp(value)  # type: ignore[arg-type]


# --- the message --------------------------------------------------------------------------


def test_exchange_message_spec_vector() -> None:
    assert exchange_message(KEY_ID, TIMESTAMP) == b"1232024-06-18T11:49:08.290+03:00"
    assert exchange_message(KEY_ID, TIMESTAMP) == (VECTORS / "message_123.txt").read_bytes()


def test_exchange_message_is_utf8_of_text_as_sent() -> None:
    assert exchange_message("ключ", "2024-06-18T11:49:08.29Z") == (
        "ключ2024-06-18T11:49:08.29Z".encode()
    )


def test_exchange_message_refuses_lone_surrogate() -> None:
    with pytest.raises(InvalidRequest):
        exchange_message("\ud800", TIMESTAMP)


# --- signature encodings ------------------------------------------------------------------

RAW = bytes(range(256))
STD = base64.b64encode(RAW).decode()


def wrap(text: str, width: int, newline: str) -> str:
    return newline.join(text[i : i + width] for i in range(0, len(text), width))


@pytest.mark.parametrize(
    "text",
    [
        STD,
        wrap(STD, 60, "\n") + "\n",  # Ruby Base64.encode64
        wrap(STD, 76, "\r\n"),  # MIME
        wrap(STD, 64, "\n"),  # openssl base64
        "\n" + STD + "\r\n\r\n",
        STD[:10] + "\r" + STD[10:],
    ],
)
def test_decode_signature_accepts(text: str) -> None:
    assert decode_signature(text) == RAW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AA==", b"\x00"),
        ("AAA=", b"\x00\x00"),
        ("AAAA", b"\x00\x00\x00"),
        ("+/+/", b"\xfb\xff\xbf"),
    ],
)
def test_decode_signature_padding(text: str, expected: bytes) -> None:
    assert decode_signature(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\r\n",
        STD.rstrip("="),  # padding missing (256 bytes: 2 padding characters)
        STD[:-1],  # one of two padding characters
        STD + "=",  # too much padding
        "AA=A",  # padding in the middle
        "A===",
        "====",
        "AA==AA==",  # two padded blocks
        "AB==",  # unused bits set: not canonical
        "AAB=",  # unused bits set: not canonical
        STD.replace("+", "-").replace("/", "_"),  # URL-safe alphabet
        "-_-_",
        STD[:8] + " " + STD[8:],  # space
        STD[:8] + "\t" + STD[8:],  # tab
        STD[:8] + "\x00" + STD[8:],
        STD[:8] + "\u00e9" + STD[8:],  # non-ASCII
        STD[:8] + "\u2028" + STD[8:],  # Unicode line separator is not a newline here
        STD[:8] + "\x0b" + STD[8:],  # vertical tab
        "AAAA.",
        base64.b64encode(bytes(1025)).decode(),  # decodes to more than 1024 bytes
        "A" * 100_000,  # huge
    ],
)
def test_decode_signature_refuses(text: str) -> None:
    with pytest.raises(InvalidRequest):
        decode_signature(text)


def test_decode_signature_max_bytes() -> None:
    assert decode_signature(base64.b64encode(bytes(1024)).decode()) == bytes(1024)
    assert decode_signature("AAAA", max_bytes=3) == bytes(3)
    with pytest.raises(InvalidRequest):
        decode_signature("AAAAAA==", max_bytes=3)
    with pytest.raises(InvalidRequest):
        decode_signature(base64.b64encode(bytes(257)).decode(), max_bytes=256)


def test_decode_signature_refuses_non_strings() -> None:
    with pytest.raises(InvalidRequest):
        decode_signature(b"AAAA")  # type: ignore[arg-type]


# --- SHA512withRSA, known answer ----------------------------------------------------------


def test_stored_signature_has_ruby_shape(stored_signature: str) -> None:
    lines = stored_signature.split("\n")
    assert lines[-1] == ""  # a final newline
    assert [len(line) for line in lines[:-2]] == [60] * (len(lines) - 2)
    assert 0 < len(lines[-2]) <= 60


def test_known_answer_recomputed(test_key: rsa.RSAPrivateKey, stored_signature: str) -> None:
    # PKCS#1 v1.5 is deterministic: cryptography must produce OpenSSL's bytes exactly.
    stored = decode_signature(stored_signature)
    assert len(stored) == 256
    recomputed = sign(test_key, exchange_message(KEY_ID, TIMESTAMP))
    assert recomputed == stored
    assert wrap(base64.b64encode(recomputed).decode(), 60, "\n") + "\n" == stored_signature


def test_known_answer_verifies(test_key: rsa.RSAPrivateKey, stored_signature: str) -> None:
    public = test_key.public_key()
    assert verify_exchange_signature(public, KEY_ID, TIMESTAMP, decode_signature(stored_signature))


def test_public_key_file_matches(test_key: rsa.RSAPrivateKey) -> None:
    public = serialization.load_pem_public_key((VECTORS / "test_key.pub.pem").read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == test_key.public_key().public_numbers()


@pytest.mark.parametrize(
    ("key_id", "timestamp"),
    [
        ("124", TIMESTAMP),  # other key id
        ("12", "3" + TIMESTAMP),  # another split of the very same message
        (KEY_ID, "2024-06-18T11:49:08.29+03:00"),  # same instant, other spelling
        (KEY_ID, "2024-06-18T08:49:08.290Z"),
        (KEY_ID, TIMESTAMP + " "),
        (KEY_ID + " ", TIMESTAMP),
    ],
)
def test_tampered_message_refused(
    test_key: rsa.RSAPrivateKey, stored_signature: str, key_id: str, timestamp: str
) -> None:
    signature = decode_signature(stored_signature)
    ok = verify_exchange_signature(test_key.public_key(), key_id, timestamp, signature)
    # "12" + "3…" is the very same message: the protocol has no separator (spec section 1).
    assert ok is (key_id + timestamp == KEY_ID + TIMESTAMP)


def test_tampered_signature_refused(test_key: rsa.RSAPrivateKey, stored_signature: str) -> None:
    signature = bytearray(decode_signature(stored_signature))
    public = test_key.public_key()
    for index in (0, 100, 255):
        flipped = bytearray(signature)
        flipped[index] ^= 0x01
        assert not verify_exchange_signature(public, KEY_ID, TIMESTAMP, bytes(flipped))
    assert not verify_exchange_signature(public, KEY_ID, TIMESTAMP, bytes(signature[:-1]))
    assert not verify_exchange_signature(public, KEY_ID, TIMESTAMP, bytes(signature) + b"\x00")
    assert not verify_exchange_signature(public, KEY_ID, TIMESTAMP, b"")
    assert not verify_exchange_signature(public, KEY_ID, TIMESTAMP, bytes(256))


def test_other_key_refused(other_key: rsa.RSAPrivateKey, stored_signature: str) -> None:
    signature = decode_signature(stored_signature)
    assert not verify_exchange_signature(other_key.public_key(), KEY_ID, TIMESTAMP, signature)


def test_other_key_signature_refused(
    test_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    signature = sign(other_key, exchange_message(KEY_ID, TIMESTAMP))
    assert not verify_exchange_signature(test_key.public_key(), KEY_ID, TIMESTAMP, signature)


def test_sha256_signature_refused(test_key: rsa.RSAPrivateKey) -> None:
    stored = decode_signature((VECTORS / "signature_123_sha256.b64").read_text(encoding="ascii"))
    message = exchange_message(KEY_ID, TIMESTAMP)
    assert stored == test_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    assert not verify_exchange_signature(test_key.public_key(), KEY_ID, TIMESTAMP, stored)


@pytest.mark.parametrize(
    "pad",
    [
        padding.PSS(padding.MGF1(hashes.SHA512()), padding.PSS.DIGEST_LENGTH),
        padding.PSS(padding.MGF1(hashes.SHA512()), padding.PSS.MAX_LENGTH),
    ],
)
def test_pss_signature_refused(test_key: rsa.RSAPrivateKey, pad: padding.AsymmetricPadding) -> None:
    signature = test_key.sign(exchange_message(KEY_ID, TIMESTAMP), pad, hashes.SHA512())
    assert not verify_exchange_signature(test_key.public_key(), KEY_ID, TIMESTAMP, signature)


def test_sha1_signature_refused(test_key: rsa.RSAPrivateKey) -> None:
    signature = test_key.sign(
        exchange_message(KEY_ID, TIMESTAMP),
        padding.PKCS1v15(),
        hashes.SHA1(),  # noqa: S303 - must be refused
    )
    assert not verify_exchange_signature(test_key.public_key(), KEY_ID, TIMESTAMP, signature)


def test_fresh_signature_round_trip(other_key: rsa.RSAPrivateKey) -> None:
    timestamp = "2022-07-08T13:24:41.8328711+03:00"
    signature = sign(other_key, exchange_message("key-42", timestamp))
    text = wrap(base64.b64encode(signature).decode(), 60, "\n") + "\n"
    assert verify_exchange_signature(
        other_key.public_key(), "key-42", timestamp, decode_signature(text)
    )


def test_non_rsa_key_is_a_type_error() -> None:
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(TypeError):
        verify_exchange_signature(ec_public, KEY_ID, TIMESTAMP, b"")  # type: ignore[arg-type]


# --- the window ---------------------------------------------------------------------------

NOW = datetime(2024, 6, 18, 8, 49, 8, 290000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "inside"),
    [
        (timedelta(0), True),
        (timedelta(seconds=59), True),
        (timedelta(seconds=60), True),  # inclusive bound
        (timedelta(seconds=60, microseconds=1), False),
        (timedelta(seconds=-60), True),
        (timedelta(seconds=-60, microseconds=-1), False),
        (timedelta(hours=3), False),
        (timedelta(days=-1), False),
    ],
)
def test_within_window(offset: timedelta, inside: bool) -> None:
    assert within_window(NOW + offset, NOW, 60) is inside
    assert within_window(NOW, NOW + offset, 60) is inside


def test_within_window_across_offsets() -> None:
    assert within_window(parse_timestamp(TIMESTAMP), NOW, 0)
    assert within_window(parse_timestamp("2024-06-18T11:50:08.290+03:00"), NOW, 60)
    assert not within_window(parse_timestamp("2024-06-18T11:50:08.291+03:00"), NOW, 60)


def test_within_window_refuses_naive_or_negative() -> None:
    naive = datetime(2024, 6, 18, 8, 49, 8)
    with pytest.raises(ValueError, match="timezone-aware"):
        within_window(naive, NOW, 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        within_window(NOW, naive, 60)
    with pytest.raises(ValueError, match="negative"):
        within_window(NOW, NOW, -1)
