"""The guard in a resource API: a separate FastAPI app verifying Propusk tokens from JWKS."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI, Request, WebSocket

from propusk.core.catalog import MethodCatalog, parse_catalog
from propusk.core.errors import InvalidToken
from propusk.core.principals import Principal
from propusk.guard import (
    BearerToken,
    Gate,
    JWKSVerifier,
    PropuskGuard,
    RequestView,
    principal_of,
)
from propusk.services.audit import Origin
from propusk.wiring import Services
from tests.helpers import PASSWORD, bearer, login, signed_up
from tests.support import Mailbox, ManualClock

CATALOG = """
public = ["GET /health"]

[[methods]]
name = "things.read"
kind = "app"
description = "Read a thing of an app"
routes = ["GET /apps/{app_id}/things"]

[[methods]]
name = "stats.read"
kind = "general"
description = "Statistics"
routes = ["GET /stats"]

[roles]
user = ["things.read"]
admin = ["*"]
"""


def resource_api(catalog: MethodCatalog, verifier: JWKSVerifier) -> FastAPI:
    """What a provider writes: its own API plus a few lines to add the guard."""
    api = FastAPI()

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/apps/{app_id}/things")
    async def things(app_id: str, request: Request) -> dict[str, Any]:
        principal = principal_of(request.scope)
        assert principal is not None
        return {"app": app_id, "subject": principal.subject}

    @api.get("/stats")
    async def stats() -> dict[str, int]:
        return {"count": 1}

    api.add_middleware(PropuskGuard, gate=Gate(catalog=catalog, verifiers=[BearerToken(verifier)]))
    return api


class CountingTransport(httpx.AsyncBaseTransport):
    """The real Propusk app behind a switch: ``down`` makes it unreachable, as a network
    outage would, so failure handling can be tested without waiting for timeouts."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.jwks_fetches = 0
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            self.jwks_fetches += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def propusk_http(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, CountingTransport]]:
    transport = CountingTransport(httpx.ASGITransport(app=app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http, transport


@pytest.fixture
def verifier(
    propusk_http: tuple[httpx.AsyncClient, CountingTransport], clock: ManualClock
) -> JWKSVerifier:
    http, _ = propusk_http
    return JWKSVerifier(
        "http://testserver/.well-known/jwks.json",
        issuer="http://testserver",
        client=http,
        min_refetch=0.0,
        clock=lambda: clock.now().timestamp(),
    )


@pytest.fixture
async def api(verifier: JWKSVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=resource_api(parse_catalog(CATALOG), verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


async def test_public_route_needs_nothing(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health")).json() == {"status": "ok"}


async def test_no_token_is_401_with_challenge(api: httpx.AsyncClient) -> None:
    r = await api.get("/apps/a1/things")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json() == {"error": "unauthenticated", "message": "Authentication is required"}


async def test_user_token_allowed_by_role(
    api: httpx.AsyncClient, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    tokens = await signed_up(client, mailbox, "guarded@example.com")
    r = await api.get("/apps/a1/things", headers=bearer(tokens))
    assert r.status_code == 200
    assert r.json()["app"] == "a1" and r.json()["subject"]
    denied = await api.get("/stats", headers=bearer(tokens))
    assert denied.status_code == 403
    assert denied.json() == {"error": "forbidden", "message": "Not allowed"}


async def test_admin_holds_every_method(
    api: httpx.AsyncClient, client: httpx.AsyncClient, services: Services
) -> None:
    await services.accounts.create_admin("gadmin@example.com", PASSWORD, Origin())
    tokens = await login(client, "gadmin@example.com")
    assert (await api.get("/stats", headers=bearer(tokens))).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/apps/a1/things/extra", 403),
        ("/nothing", 403),
        ("/apps/a%2Fb/things", 400),
        ("/apps/%2E%2E/stats", 400),
        ("/apps/%2e%2e/stats", 400),
        ("/apps//things", 400),
    ],
)
async def test_unmatched_and_hostile_paths(
    api: httpx.AsyncClient, client: httpx.AsyncClient, mailbox: Mailbox, path: str, status: int
) -> None:
    tokens = await signed_up(client, mailbox, "paths@example.com")
    r = await api.get(path, headers=bearer(tokens))
    assert r.status_code == status, r.text


async def test_expired_and_tampered_tokens(
    api: httpx.AsyncClient, client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    tokens = await signed_up(client, mailbox, "stale@example.com")
    token = tokens["access_token"]
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    r = await api.get("/apps/a1/things", headers={"Authorization": f"Bearer {tampered}"})
    assert r.status_code == 401
    clock.advance(901)
    r = await api.get("/apps/a1/things", headers=bearer(tokens))
    assert r.status_code == 401 and r.json()["error"] == "token_expired"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_jwks_cached_and_refetched_on_unknown_kid(
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    services: Services,
    propusk_http: tuple[httpx.AsyncClient, CountingTransport],
) -> None:
    _, counter = propusk_http
    tokens = await signed_up(client, mailbox, "kid@example.com")
    for _ in range(3):
        assert (await api.get("/apps/a1/things", headers=bearer(tokens))).status_code == 200
    assert counter.jwks_fetches == 1
    await services.keyring.rotate_signing(timedelta(seconds=960))
    services.keyring.forget()
    fresh = await login(client, "kid@example.com")
    assert (await api.get("/apps/a1/things", headers=bearer(fresh))).status_code == 200
    assert counter.jwks_fetches == 2
    # The old key still verifies tokens it signed.
    assert (await api.get("/apps/a1/things", headers=bearer(tokens))).status_code == 200


async def test_oversized_headers_are_refused(api: httpx.AsyncClient) -> None:
    r = await api.get("/apps/a1/things", headers={"X-Junk": "a" * 20000})
    assert r.status_code == 431


async def test_jwks_unreachable_is_503() -> None:
    # A real closed port on this machine: nothing listens there.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    verifier = JWKSVerifier(f"http://127.0.0.1:{port}/.well-known/jwks.json", issuer="x")
    transport = httpx.ASGITransport(app=resource_api(parse_catalog(CATALOG), verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        r = await http.get("/apps/a/things", headers={"Authorization": "Bearer a.b.c"})
    assert r.status_code == 503
    assert r.json()["error"] == "auth_unavailable"


async def test_jwks_outage_keeps_cached_keys_and_backs_off(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    propusk_http: tuple[httpx.AsyncClient, CountingTransport],
) -> None:
    http, counter = propusk_http
    # max_age=0: every request wants fresh keys, the worst case for an outage.
    verifier = JWKSVerifier(
        "http://testserver/.well-known/jwks.json",
        issuer="http://testserver",
        client=http,
        max_age=0.0,
        retry_after=60.0,
    )
    transport = httpx.ASGITransport(app=resource_api(parse_catalog(CATALOG), verifier))
    tokens = await signed_up(client, mailbox, "outage@example.com")
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        assert (await api.get("/apps/a/things", headers=bearer(tokens))).status_code == 200
        counter.down = True
        fetches = counter.jwks_fetches
        for _ in range(5):
            r = await api.get("/apps/a/things", headers=bearer(tokens))
            assert r.status_code == 200  # stale keys still verify
        assert counter.jwks_fetches == fetches + 1  # one failed try, then back-off


async def test_no_cached_keys_and_server_down_is_503_without_hammering(
    propusk_http: tuple[httpx.AsyncClient, CountingTransport],
) -> None:
    http, counter = propusk_http
    counter.down = True
    verifier = JWKSVerifier(
        "http://testserver/.well-known/jwks.json",
        issuer="http://testserver",
        client=http,
        retry_after=60.0,
    )
    transport = httpx.ASGITransport(app=resource_api(parse_catalog(CATALOG), verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        for _ in range(3):
            r = await api.get("/apps/a/things", headers={"Authorization": "Bearer a.b.c"})
            assert r.status_code == 503
    assert counter.jwks_fetches == 1


class HeaderVerifier:
    """A pluggable verifier of the tests' own: ``X-Test-User: <name>``."""

    method: Literal["bearer"] = "bearer"
    dialect = None

    def present(self, request: RequestView) -> bool:
        return "x-test-user" in request.headers

    def wants_body(self, request: RequestView) -> bool:
        return False

    async def verify(self, request: RequestView) -> Principal:
        user = request.headers["x-test-user"]
        if user == "bad":
            raise InvalidToken(detail="test credential refused")
        return Principal(subject=user, method=self.method, roles=frozenset({"user"}))


async def _websocket(app: Any, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Open a WebSocket to ``app`` over raw ASGI and return what the app sent."""
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "scheme": "ws",
        "server": ("api", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    await app(scope, receive, send)
    return sent


async def test_websockets_are_guarded_too() -> None:
    api = FastAPI()

    @api.websocket("/apps/{app_id}/things")
    async def feed(websocket: WebSocket, app_id: str) -> None:
        await websocket.accept()
        principal = principal_of(websocket.scope)
        await websocket.send_json({"app": app_id, "who": principal.subject if principal else None})
        await websocket.close()

    api.add_middleware(
        PropuskGuard, gate=Gate(catalog=parse_catalog(CATALOG), verifiers=[HeaderVerifier()])
    )
    for path, headers in [
        ("/apps/a1/things", {}),
        ("/apps/a1/things", {"X-Test-User": "bad"}),
        ("/stats", {"X-Test-User": "ann"}),
    ]:
        sent = await _websocket(api, path, headers)
        # Refused before accept: the server answers the handshake with 403.
        assert [m["type"] for m in sent] == ["websocket.close"]
        assert sent[0]["code"] == 1008
    sent = await _websocket(api, "/apps/a1/things", {"X-Test-User": "ann"})
    assert sent[0]["type"] == "websocket.accept", sent
    assert json.loads(sent[1]["text"]) == {"app": "a1", "who": "ann"}
