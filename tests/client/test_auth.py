"""The SDK's token flows against the real app: login, refresh before expiry, refresh and
retry on 401, fallbacks when the refresh token is refused, and the same objects driving a
sync ``httpx.Client`` over a real socket."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from propusk.client import AuthError, PasswordAuth, RefreshTokenAuth, Tokens
from propusk.config import Settings
from tests.client.conftest import API, HTML, SERVER, ClientClock, Recording
from tests.client.live import LiveServer
from tests.helpers import PASSWORD, register, signed_up
from tests.support import Mailbox, ManualClock

PROFILE = "/v1/user/profile"


def bearer_of(request: httpx.Request) -> str:
    value: str = request.headers.get("Authorization", "")
    assert value.startswith("Bearer "), value
    return value.removeprefix("Bearer ")


async def refused(client: httpx.AsyncClient, refresh_token: str) -> None:
    """Make the server refuse ``refresh_token`` from now on (log its family out)."""
    response = await client.post("/v1/auth/logout", json={"token": refresh_token})
    assert response.status_code == 200, response.text


def password_auth(
    email: str,
    clock: ClientClock,
    password: str = PASSWORD,
    seen: list[Tokens] | None = None,
) -> PasswordAuth:
    return PasswordAuth(
        SERVER, email, password, clock=clock, on_tokens=None if seen is None else seen.append
    )


# -- first use ----------------------------------------------------------------------------


async def test_first_request_logs_in_and_sends_bearer(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "first@example.com")
    seen: list[Tokens] = []
    auth = password_auth("first@example.com", client_clock, seen=seen)

    response = await api.get(PROFILE, auth=auth)

    assert response.status_code == 200, response.text
    assert response.json()["login"] == "first@example.com"
    assert wire.calls == [
        "POST testserver/v1/auth/login 200",
        "GET testserver/v1/user/profile 200",
    ]
    login_request, profile_request = wire.requests
    assert "Authorization" not in login_request.headers
    assert auth.tokens is not None
    assert bearer_of(profile_request) == auth.tokens.access_token
    assert auth.tokens.refresh_token.startswith("propusk_rt_")
    assert seen == [auth.tokens]

    # The tokens are kept: the next request goes straight to the API.
    wire.clear()
    again = await api.get(PROFILE, auth=auth)
    assert again.status_code == 200
    assert wire.calls == ["GET testserver/v1/user/profile 200"]
    assert seen == [auth.tokens]


async def test_flow_requests_inherit_timeout_and_user_agent(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "inherit@example.com")
    auth = password_auth("inherit@example.com", client_clock)
    assert (await api.get(PROFILE, auth=auth)).status_code == 200
    login_request, profile_request = wire.requests
    assert login_request.headers["User-Agent"] == "propusk-tests/1"
    assert login_request.extensions["timeout"] == profile_request.extensions["timeout"]
    assert login_request.extensions["timeout"]["read"] == 7.5


# -- refreshing ---------------------------------------------------------------------------


async def test_token_near_expiry_is_refreshed_before_the_request(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    settings: Settings,
    clock: ManualClock,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "near@example.com")
    seen: list[Tokens] = []
    auth = password_auth("near@example.com", client_clock, seen=seen)
    assert (await api.get(PROFILE, auth=auth)).status_code == 200
    first = auth.tokens
    assert first is not None
    assert first.expires_at == client_clock() + settings.access_token_ttl

    # Just outside the 30 s margin: no refresh yet.
    ttl = settings.access_token_ttl
    clock.advance(ttl - 31)
    client_clock.advance(ttl - 31)
    wire.clear()
    assert (await api.get(PROFILE, auth=auth)).status_code == 200
    assert wire.calls == ["GET testserver/v1/user/profile 200"]

    # Inside the margin (the token is still good on the server): refreshed first.
    clock.advance(2)
    client_clock.advance(2)
    wire.clear()
    response = await api.get(PROFILE, auth=auth)
    assert response.status_code == 200
    assert wire.calls == [
        "POST testserver/v1/auth/refresh 200",
        "GET testserver/v1/user/profile 200",
    ]
    assert json.loads(wire.requests[0].read()) == {"token": first.refresh_token}
    second = auth.tokens
    assert second is not None
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert second.expires_at == client_clock() + ttl
    assert bearer_of(wire.requests[1]) == second.access_token
    assert seen == [first, second]


async def test_api_401_triggers_one_refresh_and_one_retry(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    settings: Settings,
    clock: ManualClock,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "retry@example.com")
    seen: list[Tokens] = []
    auth = password_auth("retry@example.com", client_clock, seen=seen)
    assert (await api.get(PROFILE, auth=auth)).status_code == 200
    first = auth.tokens
    assert first is not None

    # The server's time runs ahead of the client's: the client believes its token is
    # fresh, the server says it has expired.
    clock.advance(settings.access_token_ttl + 1)
    wire.clear()
    response = await api.get(PROFILE, auth=auth)

    assert response.status_code == 200, response.text
    assert wire.calls == [
        "GET testserver/v1/user/profile 401",
        "POST testserver/v1/auth/refresh 200",
        "GET testserver/v1/user/profile 200",
    ]
    assert bearer_of(wire.requests[0]) == first.access_token
    assert auth.tokens is not None
    assert bearer_of(wire.requests[2]) == auth.tokens.access_token != first.access_token
    assert seen == [first, auth.tokens]


async def test_a_401_that_persists_is_returned_after_one_retry(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "persist@example.com")
    auth = password_auth("persist@example.com", client_clock)

    response = await api.get(f"{API}/v1/things", auth=auth)

    assert response.status_code == 401
    assert wire.calls == [
        "POST testserver/v1/auth/login 200",
        "GET api.test/v1/things 401",
        "POST testserver/v1/auth/refresh 200",
        "GET api.test/v1/things 401",
    ]
    assert bearer_of(wire.requests[1]) != bearer_of(wire.requests[3])


async def test_post_body_is_sent_again_on_retry(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "body@example.com")
    auth = password_auth("body@example.com", client_clock)
    response = await api.post(f"{API}/v1/things", json={"name": "x"}, auth=auth)
    assert response.status_code == 401
    api_requests = [r for r in wire.requests if r.url.host == "api.test"]
    assert [r.read() for r in api_requests] == [b'{"name":"x"}'] * 2


# -- refused refresh tokens ---------------------------------------------------------------


async def test_password_auth_logs_in_again_when_the_refresh_token_is_refused(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    settings: Settings,
    clock: ManualClock,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "relogin@example.com")
    seen: list[Tokens] = []
    auth = password_auth("relogin@example.com", client_clock, seen=seen)
    assert (await api.get(PROFILE, auth=auth)).status_code == 200
    first = auth.tokens
    assert first is not None
    await refused(client, first.refresh_token)

    clock.advance(settings.access_token_ttl + 1)
    client_clock.advance(settings.access_token_ttl + 1)
    wire.clear()
    response = await api.get(PROFILE, auth=auth)

    assert response.status_code == 200, response.text
    assert wire.calls == [
        "POST testserver/v1/auth/refresh 401",
        "POST testserver/v1/auth/login 200",
        "GET testserver/v1/user/profile 200",
    ]
    assert auth.tokens is not None
    assert auth.tokens.refresh_token != first.refresh_token
    assert seen == [first, auth.tokens]


async def test_password_auth_logs_in_again_after_a_401_and_a_refused_refresh(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    settings: Settings,
    clock: ManualClock,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "relogin401@example.com")
    auth = password_auth("relogin401@example.com", client_clock)
    assert (await api.get(PROFILE, auth=auth)).status_code == 200
    assert auth.tokens is not None
    await refused(client, auth.tokens.refresh_token)
    clock.advance(settings.access_token_ttl + 1)
    wire.clear()

    response = await api.get(PROFILE, auth=auth)

    assert response.status_code == 200
    assert wire.calls == [
        "GET testserver/v1/user/profile 401",
        "POST testserver/v1/auth/refresh 401",
        "POST testserver/v1/auth/login 200",
        "GET testserver/v1/user/profile 200",
    ]


async def test_refresh_token_auth_refreshes_stored_tokens(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    answer = await signed_up(client, mailbox, "stored@example.com")
    # Tokens saved long ago: the access token is past its expiry on the client's clock.
    stored = Tokens(answer["access_token"], answer["refresh_token"], client_clock() - 1)
    seen: list[Tokens] = []
    auth = RefreshTokenAuth(SERVER, stored, clock=client_clock, on_tokens=seen.append)

    response = await api.get(PROFILE, auth=auth)

    assert response.status_code == 200
    assert response.json()["login"] == "stored@example.com"
    assert wire.calls == [
        "POST testserver/v1/auth/refresh 200",
        "GET testserver/v1/user/profile 200",
    ]
    assert auth.tokens is not None
    assert auth.tokens.refresh_token != stored.refresh_token
    assert seen == [auth.tokens]


async def test_refresh_token_auth_uses_fresh_stored_tokens_as_they_are(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    answer = await signed_up(client, mailbox, "asis@example.com")
    stored = Tokens(answer["access_token"], answer["refresh_token"], client_clock() + 600)
    seen: list[Tokens] = []
    auth = RefreshTokenAuth(SERVER, stored, clock=client_clock, on_tokens=seen.append)
    assert (await api.get(PROFILE, auth=auth)).status_code == 200
    assert wire.calls == ["GET testserver/v1/user/profile 200"]
    assert bearer_of(wire.requests[0]) == answer["access_token"]
    assert seen == []
    assert auth.tokens == stored


async def test_refresh_token_auth_raises_when_the_refresh_token_is_refused(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    answer = await signed_up(client, mailbox, "revoked@example.com")
    await refused(client, answer["refresh_token"])
    stored = Tokens(answer["access_token"], answer["refresh_token"], client_clock() - 1)
    seen: list[Tokens] = []
    auth = RefreshTokenAuth(SERVER, stored, clock=client_clock, on_tokens=seen.append)

    with pytest.raises(AuthError) as caught:
        await api.get(PROFILE, auth=auth)

    assert caught.value.status == 401
    assert caught.value.code == "invalid_token"
    assert wire.calls == ["POST testserver/v1/auth/refresh 401"]
    assert seen == []


async def test_refresh_token_auth_raises_after_a_401_and_a_refused_refresh(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    settings: Settings,
    clock: ManualClock,
    client_clock: ClientClock,
) -> None:
    answer = await signed_up(client, mailbox, "revoked401@example.com")
    await refused(client, answer["refresh_token"])
    stored = Tokens(answer["access_token"], answer["refresh_token"], client_clock() + 600)
    auth = RefreshTokenAuth(SERVER, stored, clock=client_clock)
    clock.advance(settings.access_token_ttl + 1)

    with pytest.raises(AuthError) as caught:
        await api.get(PROFILE, auth=auth)

    assert caught.value.code == "invalid_token"
    assert wire.calls == [
        "GET testserver/v1/user/profile 401",
        "POST testserver/v1/auth/refresh 401",
    ]


# -- refused logins -----------------------------------------------------------------------


async def test_wrong_password_raises_invalid_credentials(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    await signed_up(client, mailbox, "wrong@example.com")
    seen: list[Tokens] = []
    auth = password_auth("wrong@example.com", client_clock, password="not the password", seen=seen)

    with pytest.raises(AuthError) as caught:
        await api.get(PROFILE, auth=auth)

    assert caught.value.status == 401
    assert caught.value.code == "invalid_credentials"
    assert "not the password" not in str(caught.value)
    assert wire.calls == ["POST testserver/v1/auth/login 401"]  # the API was never called
    assert auth.tokens is None
    assert seen == []


async def test_unknown_account_raises_invalid_credentials_too(
    api: httpx.AsyncClient, client_clock: ClientClock
) -> None:
    auth = password_auth("nobody@example.com", client_clock)
    with pytest.raises(AuthError) as caught:
        await api.get(PROFILE, auth=auth)
    assert (caught.value.status, caught.value.code) == (401, "invalid_credentials")


async def test_unconfirmed_account_raises_email_not_confirmed(
    client: httpx.AsyncClient, api: httpx.AsyncClient, client_clock: ClientClock
) -> None:
    await register(client, "unconfirmed@example.com")
    auth = password_auth("unconfirmed@example.com", client_clock)
    with pytest.raises(AuthError) as caught:
        await api.get(PROFILE, auth=auth)
    assert (caught.value.status, caught.value.code) == (403, "email_not_confirmed")


@pytest.mark.parametrize(
    ("server", "status", "code"),
    [
        (HTML, 502, "http_error"),  # an HTML error page instead of the JSON envelope
        (f"{HTML}/ok", 200, "invalid_response"),  # 200, but no tokens in it
    ],
)
async def test_an_answer_that_is_not_propusk_raises_auth_error(
    api: httpx.AsyncClient,
    wire: Recording,
    client_clock: ClientClock,
    server: str,
    status: int,
    code: str,
) -> None:
    auth = PasswordAuth(server, "x@example.com", PASSWORD, clock=client_clock)
    with pytest.raises(AuthError) as caught:
        await api.get(f"{API}/v1/things", auth=auth)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert PASSWORD not in str(caught.value)
    assert len(wire.requests) == 1  # the API was never called without a token
    assert auth.tokens is None


# -- the sync client, over a real socket --------------------------------------------------


class Counter:
    """An httpx event hook that records ``"METHOD /path"`` and ``"status"`` of each call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def request(self, request: httpx.Request) -> None:
        self.calls.append(f"{request.method} {request.url.path}")

    def response(self, response: httpx.Response) -> None:
        self.calls[-1] += f" {response.status_code}"

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.request], "response": [self.response]}


def test_sync_client_logs_in_refreshes_and_retries(live: LiveServer, mailbox: Mailbox) -> None:
    live.signed_up(mailbox, "sync@example.com")
    clock = ClientClock()
    seen: list[Tokens] = []
    auth = PasswordAuth(live.url, "sync@example.com", PASSWORD, clock=clock, on_tokens=seen.append)
    counter = Counter()
    with httpx.Client(auth=auth, event_hooks=counter.hooks(), timeout=10) as http:
        response = http.get(f"{live.url}{PROFILE}")
        assert response.status_code == 200, response.text
        assert response.json()["login"] == "sync@example.com"
        assert counter.calls == ["POST /v1/auth/login 200", f"GET {PROFILE} 200"]

        # The server's token expired: one refresh, one retry.
        live.clock.advance(live.settings.access_token_ttl + 1)
        counter.calls.clear()
        assert http.get(f"{live.url}{PROFILE}").status_code == 200
        assert counter.calls == [
            f"GET {PROFILE} 401",
            "POST /v1/auth/refresh 200",
            f"GET {PROFILE} 200",
        ]

        # Near expiry on the client's clock: refreshed before the request.
        clock.advance(live.settings.access_token_ttl)
        counter.calls.clear()
        assert http.get(f"{live.url}{PROFILE}").status_code == 200
        assert counter.calls == ["POST /v1/auth/refresh 200", f"GET {PROFILE} 200"]
    assert len(seen) == 3
    assert len({t.refresh_token for t in seen}) == 3


def test_sync_wrong_password_and_refused_refresh(live: LiveServer, mailbox: Mailbox) -> None:
    live.signed_up(mailbox, "sync-bad@example.com")
    with httpx.Client(timeout=10) as http:
        bad = PasswordAuth(live.url, "sync-bad@example.com", "not the password")
        with pytest.raises(AuthError) as caught:
            http.get(f"{live.url}{PROFILE}", auth=bad)
        assert caught.value.code == "invalid_credentials"

        answer = http.post(
            f"{live.url}/v1/auth/login",
            json={"username": "sync-bad@example.com", "password": PASSWORD},
        ).json()
        logout = http.post(f"{live.url}/v1/auth/logout", json={"token": answer["refresh_token"]})
        assert logout.status_code == 200
        stale = Tokens(answer["access_token"], answer["refresh_token"], time.time() - 1)
        with pytest.raises(AuthError) as caught:
            http.get(f"{live.url}{PROFILE}", auth=RefreshTokenAuth(live.url, stale))
        assert caught.value.code == "invalid_token"


def test_sync_login_honours_the_client_timeout() -> None:
    """A server that accepts the connection and never answers must not hang the flow's
    own login request: it inherits the client's timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshakes; nobody ever answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        outcome: list[BaseException] = []

        def call() -> None:
            auth = PasswordAuth(url, "x@example.com", PASSWORD)
            try:
                with httpx.Client(auth=auth, timeout=0.3) as http:
                    http.get(f"{url}{PROFILE}")
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=call, daemon=True)
        started = time.monotonic()
        worker.start()
        worker.join(timeout=10)
        hung = worker.is_alive()
    # Closing the listening socket resets a hung connection, so the worker ends either way.
    worker.join(timeout=10)
    assert not hung, "the login request ignored the client's timeout"
    assert time.monotonic() - started < 5
    assert len(outcome) == 1
    assert isinstance(outcome[0], httpx.ReadTimeout)
