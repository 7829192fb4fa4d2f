"""The pieces of a service-key exchange request (spec section 1), pure.

A client proves it holds a service key by signing ``keyId + timestamp`` with SHA512withRSA
and sending ``{"keyId", "timestamp", "signature"}`` to ``POST /public/auth/``. This module
parses and checks each piece; the service composes them (look the key up, check the window
against its clock, refuse a replayed signature, issue the token)::

    sent = parse_timestamp(body["timestamp"])              # parse
    signature = decode_signature(body["signature"])        # parse
    verify_exchange_signature(key, key_id, body["timestamp"], signature)  # verify
    within_window(sent, now, EXCHANGE_WINDOW_SECONDS)      # check time

Every parse failure raises :class:`~propusk.core.errors.InvalidRequest` with a message that
is safe to show the caller (it never echoes the input back). A signature that does not
verify is ``False``, not an exception: the service decides how to answer it (and audits it).

The signed message is the timestamp **exactly as sent**, not a re-rendering of the parsed
value: ``.290`` and ``.29`` are different messages.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from propusk.core.errors import InvalidRequest

__all__ = [
    "EXCHANGE_WINDOW_SECONDS",
    "MAX_SIGNATURE_BYTES",
    "MAX_TIMESTAMP_CHARS",
    "SIGNATURE_ALGORITHM",
    "decode_signature",
    "exchange_message",
    "parse_timestamp",
    "verify_exchange_signature",
    "within_window",
]

SIGNATURE_ALGORITHM = "SHA512withRSA"
"""The only algorithm of the exchange: RSASSA-PKCS1-v1_5 with SHA-512 (spec section 1)."""
EXCHANGE_WINDOW_SECONDS = 60
"""How far the timestamp may be from server time, either way (spec section 1)."""
MAX_TIMESTAMP_CHARS = 64
MAX_SIGNATURE_BYTES = 1024
"""Decoded signature size cap: an RSA-8192 signature is 1024 bytes, the largest key
:mod:`propusk.core.rsa_keys` accepts."""

# [0-9] rather than \d: \d also matches other scripts' digits ("٢٠٢٤"), which fromisoformat
# or int() would then happily read. "T" and "Z" in upper case only: every known client
# (Java OffsetDateTime, Ruby DateTime#iso8601, .NET "o") writes them so.
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?"
    r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)
# Standard alphabet only ('-' and '_' of the URL-safe one are refused), padding at the end.
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_TIMESTAMP_FORMAT = (
    "timestamp must be ISO-8601 with a UTC offset, e.g. 2024-06-18T11:49:08.290+03:00"
)


def parse_timestamp(text: str) -> datetime:
    """Parse the request's ``timestamp``: ``YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)``.

    The fraction has 1 to 9 digits and is truncated (not rounded) to microseconds. The
    result is timezone-aware. Refused with :class:`InvalidRequest`: a missing offset
    (naive time), a space or lower-case ``t`` instead of ``T``, ``±HHMM`` or ``±HH``
    offsets, week or ordinal dates, a leap second (``:60``), values out of range, and
    anything over :data:`MAX_TIMESTAMP_CHARS` characters. ``-00:00`` reads as UTC.
    """
    if not isinstance(text, str):
        raise InvalidRequest("timestamp must be a string")
    if len(text) > MAX_TIMESTAMP_CHARS:
        raise InvalidRequest("timestamp is too long")
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise InvalidRequest(_TIMESTAMP_FORMAT)
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        if zulu:
            tz = UTC
        else:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            if int(off_m) > 59 or offset >= timedelta(hours=24):
                raise ValueError("offset out of range")
            tz = timezone(-offset if sign == "-" else offset)
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError as exc:  # month 13, February 30, hour 24, second 60, year 0...
        raise InvalidRequest("timestamp is not a valid date and time") from exc


def exchange_message(key_id: str, timestamp: str) -> bytes:
    """The signed message: UTF-8 of ``key_id + timestamp``, no separator, both as sent."""
    try:
        return (key_id + timestamp).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a JSON "\ud800" escape
        raise InvalidRequest("keyId and timestamp must be valid Unicode text") from exc


def decode_signature(text: str, *, max_bytes: int = MAX_SIGNATURE_BYTES) -> bytes:
    """Decode the request's ``signature``: standard Base64 with padding.

    ``\\r`` and ``\\n`` are removed wherever they are (Ruby's ``Base64.encode64`` wraps at
    60 characters and ends with a newline; MIME encoders use CRLF). Anything else outside
    the standard alphabet is refused — spaces, tabs, the URL-safe ``-`` and ``_`` — as is
    missing or misplaced padding, a non-canonical encoding (unused bits set, so that one
    signature has exactly one accepted spelling), an empty value, and a decoded length over
    ``max_bytes``. Every refusal is :class:`InvalidRequest`.
    """
    if not isinstance(text, str):
        raise InvalidRequest("signature must be a string")
    limit = 4 * -(-max_bytes // 3)  # encoded length of max_bytes
    if len(text) > 2 * limit:  # before copying: generous room for line breaks
        raise InvalidRequest("signature is too long")
    compact = text.replace("\r", "").replace("\n", "")
    if not compact:
        raise InvalidRequest("signature is empty")
    if len(compact) > limit:
        raise InvalidRequest("signature is too long")
    if len(compact) % 4 or _BASE64.fullmatch(compact) is None:
        raise InvalidRequest("signature must be standard Base64 with padding")
    try:
        raw = base64.b64decode(compact, validate=True)
    except binascii.Error as exc:  # "=" inside the data, say
        raise InvalidRequest("signature must be standard Base64 with padding") from exc
    if base64.b64encode(raw).decode("ascii") != compact:
        raise InvalidRequest("signature is not canonical Base64")
    if len(raw) > max_bytes:
        raise InvalidRequest("signature is too long")
    return raw


def verify_exchange_signature(
    public_key: rsa.RSAPublicKey, key_id: str, timestamp: str, signature: bytes
) -> bool:
    """Whether ``signature`` is SHA512withRSA of :func:`exchange_message` under ``public_key``.

    Only RSASSA-PKCS1-v1_5 with SHA-512 is tried: no algorithm comes from the request, so
    there is nothing to negotiate down. A signature of the wrong length is simply False.
    """
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TypeError("service keys are RSA public keys")
    message = exchange_message(key_id, timestamp)
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:
        return False
    return True


def within_window(sent: datetime, now: datetime, window_seconds: int) -> bool:
    """Whether ``sent`` is at most ``window_seconds`` from ``now``, before or after.

    The bound is inclusive: exactly 60.000000 s away passes, 60.000001 s does not. Both
    times must be timezone-aware (a naive one is a programming error: ValueError).
    """
    if sent.tzinfo is None or now.tzinfo is None:
        raise ValueError("within_window needs timezone-aware datetimes")
    if window_seconds < 0:
        raise ValueError("window_seconds must not be negative")
    return abs(now - sent) <= timedelta(seconds=window_seconds)
