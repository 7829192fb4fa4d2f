"""Account-token flows for httpx, in the style of httpx's own ``DigestAuth``.

The flows are generators that yield requests and never do I/O themselves, so one object
works with ``httpx.Client`` and ``httpx.AsyncClient`` alike::

    auth = PasswordAuth("https://auth.example.com", "me@example.com", password)
    with httpx.Client(auth=auth) as http:
        http.get("https://api.example.com/v1/things")

The access token is refreshed shortly before it expires and, once, when the API answers
401; if the refresh token is refused too, ``PasswordAuth`` logs in again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypedDict, Unpack

import httpx

__all__ = ["AuthError", "PasswordAuth", "RefreshTokenAuth", "TokenFlowOptions", "Tokens"]


class AuthError(Exception):
    """The server refused to issue tokens (wrong password, revoked refresh token, …)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float  # client clock, seconds since the epoch


def _error(response: httpx.Response) -> AuthError:
    """The server's ``{"error", "message"}`` envelope, or what a proxy answered instead."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = body["error"]
        return AuthError(response.status_code, code, str(body.get("message") or code))
    return AuthError(
        response.status_code, "http_error", response.text[:200] or response.reason_phrase
    )


class TokenFlowOptions(TypedDict, total=False):
    """The keyword options of :class:`PasswordAuth` and :class:`RefreshTokenAuth`."""

    refresh_margin: float  # refresh this many seconds before expiry (default 30)
    on_tokens: Callable[[Tokens], None] | None  # called with every new pair, e.g. to save it
    clock: Callable[[], float]  # seconds since the epoch (default time.time)


class _TokenFlow(httpx.Auth):
    requires_response_body = True

    def __init__(
        self,
        server: str,
        tokens: Tokens | None,
        /,
        *,
        refresh_margin: float = 30.0,
        on_tokens: Callable[[Tokens], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._server = server.rstrip("/")
        self._tokens = tokens
        self._margin = refresh_margin
        self._on_tokens = on_tokens
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def tokens(self) -> Tokens | None:
        return self._tokens

    def _request(self, path: str, body: dict[str, str], like: httpx.Request) -> httpx.Request:
        """A token request that inherits the API request's timeouts and User-Agent.

        Requests an auth flow yields bypass ``Client.build_request``: without the
        ``timeout`` extension they would wait for a silent server forever.
        """
        headers = {"User-Agent": like.headers["User-Agent"]} if "User-Agent" in like.headers else {}
        extensions = {"timeout": like.extensions["timeout"]} if "timeout" in like.extensions else {}
        return httpx.Request(
            "POST", f"{self._server}{path}", json=body, headers=headers, extensions=extensions
        )

    def _login_request(self, like: httpx.Request) -> httpx.Request | None:
        return None

    def _store(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise _error(response)
        try:
            body = response.json()
            tokens = Tokens(
                str(body["access_token"]),
                str(body["refresh_token"]),
                self._clock() + float(body.get("expires_in", 300)),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            # Not a token answer: the server URL points at something other than Propusk.
            raise AuthError(
                response.status_code,
                "invalid_response",
                f"{response.request.url} did not answer with tokens",
            ) from None
        with self._lock:
            self._tokens = tokens
        if self._on_tokens is not None:
            self._on_tokens(tokens)

    def _renew(self, like: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Refresh; when the refresh token is refused, log in again if we can."""
        if self._tokens is not None:
            response = yield self._request(
                "/v1/auth/refresh", {"token": self._tokens.refresh_token}, like
            )
            if response.status_code == 200:
                self._store(response)
                return
            login = self._login_request(like)
            if login is None:
                raise _error(response)
        else:
            login = self._login_request(like)
            if login is None:
                raise AuthError(401, "unauthenticated", "no tokens and no way to log in")
        self._store((yield login))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._tokens is None or self._tokens.expires_at - self._margin <= self._clock():
            yield from self._renew(request)
        assert self._tokens is not None
        request.headers["Authorization"] = f"Bearer {self._tokens.access_token}"
        response = yield request
        if response.status_code == 401:
            yield from self._renew(request)
            request.headers["Authorization"] = f"Bearer {self._tokens.access_token}"
            yield request


class PasswordAuth(_TokenFlow):
    """Logs in with e-mail and password on first use, then keeps the tokens fresh."""

    def __init__(
        self, server: str, username: str, password: str, **options: Unpack[TokenFlowOptions]
    ) -> None:
        super().__init__(server, None, **options)
        self._username = username
        self._password = password

    def _login_request(self, like: httpx.Request) -> httpx.Request:
        return self._request(
            "/v1/auth/login", {"username": self._username, "password": self._password}, like
        )


class RefreshTokenAuth(_TokenFlow):
    """Starts from stored tokens (as ``propusk login`` saves them); refreshes as needed."""

    def __init__(self, server: str, tokens: Tokens, **options: Unpack[TokenFlowOptions]) -> None:
        super().__init__(server, tokens, **options)
