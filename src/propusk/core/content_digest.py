"""RFC 9530 ``Content-Digest``: a Structured Field Dictionary of digests of the body bytes.

    Content-Digest: sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:

Only ``sha-256`` and ``sha-512`` are produced or trusted (RFC 9530 section 5 marks the
others insecure or deprecated). Members with other algorithm names are ignored, as the RFC
allows, but at least one trusted member must be present and every trusted member must match
the exact bytes received (before any content decoding).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any

import http_sf

from propusk.core.errors import InvalidSignature
from propusk.core.signature_input import fast_byte_sequence

__all__ = [
    "DIGEST_ALGORITHMS",
    "MAX_DIGEST_HEADER_CHARS",
    "DigestMismatch",
    "content_digest",
    "verify_content_digest",
]

DIGEST_ALGORITHMS: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}
MAX_DIGEST_HEADER_CHARS = 1024


class DigestMismatch(InvalidSignature):
    """The Content-Digest is malformed, untrusted or does not match the body."""

    message = "The request signature is invalid"


def content_digest(body: bytes, algorithms: Iterable[str] = ("sha-256",)) -> str:
    """The ``Content-Digest`` field value for ``body`` with the given algorithms."""
    members: list[tuple[str, Any]] = []
    for name in algorithms:
        if name not in DIGEST_ALGORITHMS:
            raise ValueError(f"unsupported digest algorithm {name!r}")
        members.append((name, (DIGEST_ALGORITHMS[name](body).digest(), {})))
    return http_sf.ser(dict(members))


def _refuse_duplicate(key: str, context: str) -> None:
    raise DigestMismatch(detail=f"duplicate Content-Digest member {key!r}")


def verify_content_digest(value: str, body: bytes) -> str:
    """Check a ``Content-Digest`` field value against ``body``; returns the strongest
    algorithm that matched. Raises :class:`DigestMismatch` otherwise."""
    if len(value) > MAX_DIGEST_HEADER_CHARS:
        raise DigestMismatch(detail="Content-Digest too long")
    fast = fast_byte_sequence(value)  # the usual one-member field, without the full parser
    if fast is not None and fast[0] in DIGEST_ALGORITHMS:
        name, digest = fast
        if not hmac.compare_digest(digest, DIGEST_ALGORITHMS[name](body).digest()):
            raise DigestMismatch(detail=f"Content-Digest {name} does not match the body")
        return name
    try:
        parsed = http_sf.parse(
            value.encode("ascii"), tltype="dictionary", on_duplicate_key=_refuse_duplicate
        )
    except (ValueError, UnicodeEncodeError) as exc:
        raise DigestMismatch(detail="Content-Digest is not a structured dictionary") from exc
    assert isinstance(parsed, dict)
    members: dict[str, Any] = parsed
    matched: list[str] = []
    for name, member in members.items():
        hasher = DIGEST_ALGORITHMS.get(name)
        if hasher is None:
            continue  # RFC 9530 section 2: unknown algorithms are ignored
        digest = member[0]
        if not isinstance(digest, bytes):
            raise DigestMismatch(detail=f"Content-Digest {name} is not a byte sequence")
        if not hmac.compare_digest(digest, hasher(body).digest()):
            raise DigestMismatch(detail=f"Content-Digest {name} does not match the body")
        matched.append(name)
    if not matched:
        raise DigestMismatch(detail="Content-Digest has no sha-256 or sha-512 member")
    return "sha-512" if "sha-512" in matched else matched[0]
