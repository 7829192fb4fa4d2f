"""Certificate-bound tokens (RFC 8705): the ``cnf`` claim and the ``x5t#S256`` thumbprint.

A token issued over mutual TLS may carry ``"cnf": {"x5t#S256": "<thumbprint>"}``, the
base64url (no padding) SHA-256 of the client certificate's DER (RFC 8705 section 3.1). A
resource server then accepts the token only on a connection that presents the same
certificate: a stolen token is useless without the certificate's private key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

from propusk.core.errors import InvalidToken

__all__ = ["CNF_CLAIM", "X5T_S256", "cnf_claim", "read_cnf", "same_thumbprint", "x5t_s256"]

CNF_CLAIM = "cnf"
X5T_S256 = "x5t#S256"
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of 32 bytes, no padding


def x5t_s256(der: bytes) -> str:
    """The RFC 8705 thumbprint of a certificate given as DER bytes."""
    digest = hashlib.sha256(der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def cnf_claim(thumbprint: str) -> dict[str, str]:
    """The value of the ``cnf`` claim binding a token to the certificate ``thumbprint``."""
    if _THUMBPRINT.fullmatch(thumbprint) is None:
        raise ValueError("an x5t#S256 thumbprint is 43 base64url characters")
    return {X5T_S256: thumbprint}


def read_cnf(claims: Mapping[str, object]) -> str | None:
    """The bound thumbprint of verified ``claims``; None when the token is not bound.

    A ``cnf`` that is present but unreadable refuses the token (InvalidToken): a token
    that says it is bound must never be taken for an unbound one.
    """
    if CNF_CLAIM not in claims:
        return None
    value = claims[CNF_CLAIM]
    if type(value) is not dict:
        raise InvalidToken(detail="cnf is not an object")
    thumbprint = value.get(X5T_S256)
    if type(thumbprint) is not str or _THUMBPRINT.fullmatch(thumbprint) is None:
        raise InvalidToken(detail="cnf without a usable x5t#S256")
    return thumbprint


def same_thumbprint(bound: str, der: bytes | None) -> bool:
    """Whether the presented certificate ``der`` is the one a token is bound to."""
    if der is None:
        return False
    return hmac.compare_digest(bound.encode("ascii"), x5t_s256(der).encode("ascii"))
