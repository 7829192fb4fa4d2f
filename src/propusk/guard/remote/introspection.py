"""``RemoteIntrospection``: the guard's ports answered by Propusk's introspection endpoint
(RFC 7662, ``POST /v1/introspect``), for a resource API in another process.

What it caches, and why that is safe:

- **Active answers** for ``min(revocation_delay, exp - now)``: a revoked, disabled or
  deleted credential stops passing here at most ``revocation_delay`` seconds after the
  server stops accepting it, and a token never passes after its ``exp``.
- **Inactive answers** for ``negative_ttl``, in a cache of their own: a client retrying
  with a dead credential costs one request per ``negative_ttl``, and a flood of garbage
  (every value new) pushes out only other garbage, never a good entry. A credential that
  is enabled again may be refused for up to ``negative_ttl``.
- **Failures are not cached.** An unreachable server, a timeout, a 5xx, a refusal of this
  guard's own credential, an answer that is not Propusk's: the request gets 503
  (``auth_unavailable``, with ``Retry-After``) in its dialect, and the next one asks again.

Cache keys are keyed hashes of the credentials (:mod:`propusk.guard.remote.cache`),
concurrent misses for one credential share one request, and every answer is read with a
size cap and strictly (:mod:`propusk.guard.remote.answers`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import httpx

from propusk.core.errors import AuthServerUnavailable, InvalidToken, TokenExpired
from propusk.core.principals import AuthMethod, Principal
from propusk.guard.remote.answers import (
    MalformedAnswer,
    RemotePartner,
    partner_from,
    principal_from,
)
from propusk.guard.remote.cache import BoundedTTLCache, CredentialKeys, SingleFlight

__all__ = [
    "IntrospectedTokens",
    "IntrospectionUnavailable",
    "Lookup",
    "RemoteIntrospection",
    "RemotePartners",
    "TokenMethod",
]

log = logging.getLogger("propusk.guard")
T = TypeVar("T")

TokenMethod = Literal["bearer", "service-key", "api-key"]
Lookup = Literal["id", "login", "terminal"]
HINTS: Final[dict[TokenMethod, str]] = {
    "bearer": "access_token",
    "service-key": "service_token",
    "api-key": "api_key",
}
MAX_TOKEN_CHARS: Final = 10_000  # as the server: longer is no token of Propusk's
MAX_NAME_CHARS: Final = 512  # signing-key ids, logins, terminal ids
MAX_ANSWER_BYTES: Final = 256 * 1024  # a service key with 100 apps answers ~5 KiB
WARN_EVERY: Final = 10.0  # seconds between two warnings about an unusable server


class IntrospectionUnavailable(AuthServerUnavailable):
    """The introspection endpoint gave no usable answer: nothing is known about the
    credential, so the request is neither accepted nor refused as invalid."""

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        super().__init__(message, detail=detail, retry_after=1)  # rendered as Retry-After


@dataclass(frozen=True, slots=True)
class _Refused:
    """A final answer about a credential: it does not pass (and why, for the log)."""

    expired: bool
    detail: str

    def error(self) -> InvalidToken:
        return (TokenExpired if self.expired else InvalidToken)(detail=self.detail)


class RemoteIntrospection:
    """A client of Propusk's introspection endpoint that answers the guard's ports.

    - ``introspection_url``: ``https://<propusk>/v1/introspect``;
    - ``auth``: how this guard authenticates there: an account holding the ``introspect``
      role, e.g. ``propusk.client.PasswordAuth`` (logs in, refreshes before expiry);
    - ``client``: your ``httpx.AsyncClient`` (connection reuse, TLS settings, its
      lifetime is yours); None: one is made on first use and closed by :meth:`aclose`;
    - ``revocation_delay``: how long an active answer may be reused (seconds, 0: ask
      every time); ``negative_ttl``: the same for inactive answers;
    - ``max_entries`` / ``max_negative_entries``: the bounds of the two caches (the
      negative one defaults to the same size);
    - ``timeout``: per request to the server; ``clock`` (monotonic, for cache lifetimes)
      and ``wall_clock`` (epoch seconds, for ``exp``) are injectable for tests.

    The ports: :attr:`access_tokens`, :attr:`public_tokens`, :attr:`api_keys`
    (:class:`~propusk.guard.ports.TokenVerifier`) and :attr:`partners`
    (:class:`~propusk.guard.ports.PartnerDirectory`).
    """

    def __init__(
        self,
        introspection_url: str,
        *,
        auth: httpx.Auth | None = None,
        client: httpx.AsyncClient | None = None,
        revocation_delay: float = 1.0,
        negative_ttl: float = 5.0,
        max_entries: int = 10_000,
        max_negative_entries: int | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if revocation_delay < 0 or negative_ttl < 0:
            raise ValueError("revocation_delay and negative_ttl must not be negative")
        self.url = introspection_url
        self._auth = auth
        self._client = client
        self._owns_client = client is None
        self.revocation_delay = revocation_delay
        self.negative_ttl = negative_ttl
        self._timeout = timeout
        self._wall_clock = wall_clock
        self._clock = clock
        self._keys = CredentialKeys()
        negative_size = max_entries if max_negative_entries is None else max_negative_entries
        self._principals: BoundedTTLCache[Principal] = BoundedTTLCache(max_entries, clock)
        self._partners: BoundedTTLCache[RemotePartner] = BoundedTTLCache(max_entries, clock)
        self._negative: BoundedTTLCache[_Refused] = BoundedTTLCache(negative_size, clock)
        self._token_flight: SingleFlight[Principal | _Refused] = SingleFlight()
        self._partner_flight: SingleFlight[RemotePartner | None] = SingleFlight()
        self._warned_at = float("-inf")
        self.access_tokens = IntrospectedTokens(self, "bearer")
        self.public_tokens = IntrospectedTokens(self, "service-key")
        self.api_keys = IntrospectedTokens(self, "api-key")
        self.partners = RemotePartners(self)

    # -- lifetime --------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP client this object made (never one it was given)."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> RemoteIntrospection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def forget(self) -> None:
        """Drop every cached answer (positive and negative)."""
        self._principals.clear()
        self._partners.clear()
        self._negative.clear()

    # -- tokens ----------------------------------------------------------------------

    async def verify(self, token: str, method: TokenMethod) -> Principal:
        """The Principal of ``token`` presented as a ``method`` credential, or
        InvalidToken/TokenExpired; IntrospectionUnavailable when the server cannot say."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken(detail=f"{method} credential of {len(token)} characters")
        key = self._keys.key(method, token)
        outcome: Principal | _Refused | None = self._principals.get(key) or self._negative.get(key)
        if outcome is None:
            outcome = await self._shared(
                self._token_flight, key, lambda: self._introspect(key, token, method)
            )
        if isinstance(outcome, _Refused):
            raise outcome.error()
        return outcome

    async def _introspect(self, key: str, token: str, method: TokenMethod) -> Principal | _Refused:
        answer = await self._ask({"token": token, "token_type_hint": HINTS[method]})
        if answer.get("active") is not True:
            return self._refuse(key, _Refused(False, f"introspection: inactive {method}"))
        try:
            principal = principal_from(answer, method)
        except InvalidToken as exc:
            return self._refuse(key, _Refused(False, exc.detail or exc.code))
        except MalformedAnswer as exc:
            raise self._unusable(f"introspection answer refused: {exc}") from None
        ttl = self.revocation_delay
        if principal.expires_at is not None:
            left = principal.expires_at - self._wall_clock()
            if left <= 0:
                # The server's clock and ours disagree by a little: ours decides, as it
                # does for tokens verified locally.
                return self._refuse(key, _Refused(True, f"introspection: {method} past exp"))
            ttl = min(ttl, left)
        self._principals.put(key, principal, ttl)
        return principal

    def _refuse(self, key: str, refused: _Refused) -> _Refused:
        self._negative.put(key, refused, self.negative_ttl)
        return refused

    # -- signing keys ----------------------------------------------------------------

    async def partner(self, lookup: Lookup, value: str) -> RemotePartner | None:
        """The enabled signing key by ``lookup``, or None (unknown, disabled, deleted)."""
        if not value or len(value) > MAX_NAME_CHARS or any(ord(c) < 32 for c in value):
            return None  # no registered id, login or terminal looks like that
        key = self._keys.key(f"signing-key:{lookup}", value)
        cached = self._partners.get(key)
        if cached is not None:
            return cached
        if self._negative.get(key) is not None:
            return None
        return await self._shared(
            self._partner_flight, key, lambda: self._look_up(key, lookup, value)
        )

    async def _look_up(self, key: str, lookup: Lookup, value: str) -> RemotePartner | None:
        form = {"token": value, "token_type_hint": "signing_key", "lookup": lookup}
        answer = await self._ask(form)
        if answer.get("active") is not True:
            self._refuse(key, _Refused(False, f"introspection: no signing key by {lookup}"))
            return None
        try:
            partner = partner_from(answer)
        except MalformedAnswer as exc:
            raise self._unusable(f"signing-key answer refused: {exc}") from None
        if lookup == "id" and partner.key_id != value:
            raise self._unusable("signing-key answer names another key")
        self._partners.put(key, partner, self.revocation_delay)
        return partner

    # -- the wire --------------------------------------------------------------------

    async def _shared(
        self, flight: SingleFlight[T], key: str, fetch: Callable[[], Coroutine[Any, Any, T]]
    ) -> T:
        try:
            return await flight.run(key, fetch)
        except IntrospectionUnavailable as exc:
            # A fresh error per waiter: one exception object raised in many tasks would
            # share (and grow) one traceback.
            raise IntrospectionUnavailable(detail=exc.detail) from None

    def _unusable(self, detail: str) -> IntrospectionUnavailable:
        now = self._clock()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("introspection at %s unusable: %s", self.url, detail)
        else:
            log.debug("introspection at %s unusable: %s", self.url, detail)
        return IntrospectionUnavailable(detail=detail)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    async def _ask(self, form: dict[str, str]) -> dict[str, object]:
        """One POST to the endpoint: its JSON object, or IntrospectionUnavailable."""
        # No auth given: the client's own (USE_CLIENT_DEFAULT), not "no auth at all".
        options: dict[str, Any] = {} if self._auth is None else {"auth": self._auth}
        try:
            async with self._http().stream(
                "POST",
                self.url,
                data=form,
                timeout=self._timeout,
                headers={"Accept": "application/json"},
                **options,
            ) as response:
                if response.status_code != 200:
                    raise self._unusable(f"HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and len(declared) < 12 and int(declared) > MAX_ANSWER_BYTES:
                    raise self._unusable(f"an answer of {declared} bytes")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise self._unusable(f"an answer over {MAX_ANSWER_BYTES} bytes")
        except IntrospectionUnavailable:
            raise
        except Exception as exc:
            # Whatever went wrong on the way (connection, TLS, timeout, this guard's own
            # auth flow failing to log in): the server cannot answer. A 503, never a 500;
            # the traceback goes to the debug log in case it is a bug of ours.
            log.debug("introspection request failed", exc_info=True)
            raise self._unusable(f"{type(exc).__name__}") from None
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the stack
            raise self._unusable("an answer that is not JSON") from None
        if type(answer) is not dict or type(answer.get("active")) is not bool:
            raise self._unusable("an answer without a boolean 'active'")
        return answer


class IntrospectedTokens:
    """The :class:`~propusk.guard.ports.TokenVerifier` of one token kind."""

    def __init__(self, remote: RemoteIntrospection, method: TokenMethod) -> None:
        self.remote = remote
        self.method: AuthMethod = method
        self._method: TokenMethod = method

    async def verify(self, token: str) -> Principal:
        return await self.remote.verify(token, self._method)


class RemotePartners:
    """The :class:`~propusk.guard.ports.PartnerDirectory` over introspection: signing
    keys' public halves, verified with here by the very same signature verifiers.

    It is not a :class:`~propusk.guard.ports.PasswordDirectory`: the XML terminal
    password's hash never leaves the server.
    """

    def __init__(self, remote: RemoteIntrospection) -> None:
        self.remote = remote

    async def partner_by_id(self, key_id: str) -> RemotePartner | None:
        return await self.remote.partner("id", key_id)

    async def partner_by_login(self, login: str) -> RemotePartner | None:
        return await self.remote.partner("login", login)

    async def partner_by_terminal(self, terminal_id: str) -> RemotePartner | None:
        return await self.remote.partner("terminal", terminal_id)

    async def note_used(self, key_id: str) -> None:
        """Nothing to send: the server notes a key's use when it is looked up."""
