"""RS256 access tokens (JWT), as a Waves node and any JOSE library verify them.

Parse, verify and read are kept apart: the header is read *unverified* only to pick the
key by ``kid``; the signature is checked with an allowlist of exactly one algorithm
(RS256 — so ``alg: none`` and HS256-with-the-public-key confusion are refused by
construction); then the claims are validated against an injected ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import RSAKey
from joserfc.jws import extract_compact
from joserfc.jwt import JWTClaimsRegistry

from propusk.core.cnf import read_cnf
from propusk.core.errors import InvalidToken, TokenExpired
from propusk.core.principals import Principal

__all__ = [
    "ACCESS_TOKEN_ALGORITHMS",
    "ACCESS_TOKEN_TYPE",
    "MAX_TOKEN_BYTES",
    "AccessClaims",
    "InvalidClaims",
    "UnknownKeyId",
    "issue_access_token",
    "verify_access_token",
]

ACCESS_TOKEN_ALGORITHMS = ("RS256",)
# RFC 9068's media type for JWT access tokens; verifiers that do not know it ignore it.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
MAX_TOKEN_BYTES = 8192


class UnknownKeyId(InvalidToken):
    """The token names a ``kid`` the verifier does not have (it may refresh its JWKS)."""


class InvalidClaims(InvalidToken):
    """A token whose signature verifies but whose claims have the wrong shape: Propusk's
    dialect says ``invalid_token`` as for any bad token; a Waves node says 620."""


@dataclass(frozen=True)
class AccessClaims:
    """The verified content of an access token."""

    subject: str
    roles: tuple[str, ...]
    addresses: tuple[Mapping[str, str], ...]
    issuer: str
    issued_at: int
    expires_at: int
    jti: str
    kid: str
    extra: Mapping[str, Any]
    cert_thumbprint: str | None = None
    """RFC 8705 ``cnf.x5t#S256``: the certificate the token is bound to (None: unbound)."""

    def principal(self) -> Principal:
        """The account Principal these verified claims describe (authenticated by Bearer)."""
        return Principal(
            subject=self.subject,
            method="bearer",
            roles=frozenset(self.roles),
            cert_thumbprint=self.cert_thumbprint,
            token_id=self.jti,
            expires_at=self.expires_at,
        )


def issue_access_token(
    key: RSAKey,
    *,
    subject: str,
    roles: Sequence[str],
    addresses: Sequence[Mapping[str, str]],
    issuer: str,
    issued_at: int,
    ttl: int,
    jti: str,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Sign an access token with ``key`` (its ``kid`` goes into the header)."""
    if key.kid is None:
        raise ValueError("the signing key has no kid")
    claims: dict[str, Any] = dict(extra or {})
    claims.update(
        {
            "iss": issuer,
            "sub": subject,
            "roles": list(roles),
            "addresses": [dict(a) for a in addresses],
            "iat": issued_at,
            "exp": issued_at + ttl,
            "jti": jti,
        }
    )
    header = {"alg": "RS256", "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=ACCESS_TOKEN_ALGORITHMS)


def verify_access_token(
    token: str,
    keys: Mapping[str, RSAKey],
    *,
    issuer: str,
    now: int,
    leeway: int = 0,
) -> AccessClaims:
    """Verify signature and claims; raise InvalidToken / TokenExpired / UnknownKeyId."""
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise InvalidToken(detail="not a compact JWS of acceptable size")
    try:
        unverified_header = extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidToken(detail=f"unparsable token: {type(exc).__name__}") from exc
    kid = unverified_header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken(detail="no kid in header")
    key = keys.get(kid)
    if key is None:
        raise UnknownKeyId(detail=f"unknown kid {kid!r}")
    try:
        verified = jwt.decode(token, key, algorithms=ACCESS_TOKEN_ALGORITHMS)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidToken(detail=f"bad signature or format: {type(exc).__name__}") from exc
    registry = JWTClaimsRegistry(
        now=now,
        leeway=leeway,
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        jti={"essential": True},
        iss={"essential": True, "value": issuer},
    )
    try:
        registry.validate(verified.claims)
    except ExpiredTokenError as exc:
        raise TokenExpired(detail="exp in the past") from exc
    except JoseError as exc:
        raise InvalidToken(detail=f"claims rejected: {exc}") from exc
    return _read_claims(verified.claims, kid)


def _read_claims(claims: Mapping[str, Any], kid: str) -> AccessClaims:
    roles = claims.get("roles", [])
    addresses = claims.get("addresses", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidClaims(detail="roles is not a list of strings")
    if not isinstance(addresses, list) or not all(
        isinstance(a, dict) and all(isinstance(v, str) for v in a.values()) for a in addresses
    ):
        raise InvalidClaims(detail="addresses is not a list of string maps")
    values = (claims.get("sub"), claims.get("iss"), claims.get("jti"))
    times = (claims.get("iat"), claims.get("exp"))
    if not all(isinstance(v, str) for v in values) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in times
    ):
        raise InvalidClaims(detail="sub/iss/jti/iat/exp have wrong types")
    known = {"sub", "roles", "addresses", "iss", "iat", "exp", "jti"}
    return AccessClaims(
        subject=str(claims["sub"]),
        roles=tuple(roles),
        addresses=tuple(addresses),
        issuer=str(claims["iss"]),
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
        jti=str(claims["jti"]),
        kid=kid,
        extra={k: v for k, v in claims.items() if k not in known},
        cert_thumbprint=read_cnf(claims),
    )
