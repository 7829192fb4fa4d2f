"""Account access tokens verified locally with keys from Propusk's JWKS endpoint: what a
resource API in another process uses for ``Authorization: Bearer`` (no call per request)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from propusk.core.errors import AuthServerUnavailable
from propusk.core.principals import Principal
from propusk.core.tokens import UnknownKeyId, verify_access_token

log = logging.getLogger("propusk.guard")

__all__ = ["JWKSUnavailable", "JWKSVerifier"]


class JWKSUnavailable(AuthServerUnavailable):
    """The JWKS could not be fetched and no keys are cached."""


class JWKSVerifier:
    """Verifies account access tokens locally with keys from Propusk's JWKS endpoint.

    Keys are fetched once and cached for ``max_age`` seconds; a token with an unknown
    ``kid`` (the server rotated its key) triggers one early re-fetch, at most every
    ``min_refetch`` seconds, so a flood of forged kids cannot hammer the server. When a
    fetch fails, the cached keys stay in use and no fetch is tried for ``retry_after``
    seconds; with no cached keys at all, requests get 503 until a fetch succeeds.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        client: httpx.AsyncClient | None = None,
        max_age: float = 300.0,
        min_refetch: float = 5.0,
        leeway: int = 0,
        retry_after: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = jwks_url
        self._issuer = issuer
        self._client = client
        self._max_age = max_age
        self._min_refetch = min_refetch
        self._leeway = leeway
        self._clock = clock
        self._keys: dict[str, RSAKey] = {}
        self._fetched_at = float("-inf")
        self._failed_at = float("-inf")
        self._retry_after = retry_after
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        try:
            if self._client is not None:
                response = await self._client.get(self._url, timeout=5.0)
            else:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    response = await client.get(self._url)
            response.raise_for_status()
            keyset = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise JWKSUnavailable(detail=f"JWKS fetch failed: {type(exc).__name__}") from exc
        keys: dict[str, RSAKey] = {}
        for key in keyset.keys:
            if isinstance(key, RSAKey) and key.kid and key.get("alg", "RS256") == "RS256":
                keys[key.kid] = key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _ensure(self, *, unknown_kid: bool = False) -> None:
        age = time.monotonic() - self._fetched_at
        if age < self._max_age and not (unknown_kid and age >= self._min_refetch):
            return
        async with self._lock:
            now = time.monotonic()
            age = now - self._fetched_at
            if age < self._max_age and not (unknown_kid and age >= self._min_refetch):
                return  # another request refreshed the keys while this one waited
            if now - self._failed_at < self._retry_after:
                if self._keys:
                    return  # keep serving the cached keys during the back-off
                raise JWKSUnavailable(detail="JWKS fetch failed recently; backing off")
            try:
                await self._fetch()
            except JWKSUnavailable:
                self._failed_at = now
                if not self._keys:
                    raise
                # Stale-if-error: keys that verified a minute ago still verify; an outage of
                # the authorization server must not take every resource API down with it.
                log.warning("JWKS refresh failed; using the cached keys for now")

    async def verify(self, token: str) -> Principal:
        await self._ensure()
        now = int(self._clock())
        try:
            claims = verify_access_token(
                token, self._keys, issuer=self._issuer, now=now, leeway=self._leeway
            )
        except UnknownKeyId:
            await self._ensure(unknown_kid=True)
            claims = verify_access_token(
                token, self._keys, issuer=self._issuer, now=now, leeway=self._leeway
            )
        return claims.principal()
