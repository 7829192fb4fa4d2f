"""The app with a dead database or a dead Redis: /status and /readyz say which backend is
down, routes that need it answer 503 + Retry-After in their own shape, routes that need
neither keep working, and each outage is logged once (docs/deployment.md, "When
PostgreSQL or Redis is down").

A dead backend here is a real one: a driver connecting to a closed port of 127.0.0.1
(nothing listens on port 1), so the errors are the ones a stopped server gives.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from propusk import __version__
from propusk.config import Settings
from propusk.storage.cache import Cache, MemoryCache, RedisCache
from propusk.storage.db import Database
from propusk.web.app import create_app
from propusk.wiring import Services, build_services
from tests.conftest import MASTER_KEY, make_settings
from tests.support import Mailbox, ManualClock
from tests.web.console.helpers import Console, console_client
from tests.web.service_key_helpers import exchange, load_private, owner_with_org
from tests.web.test_introspection_api import introspector

DEAD_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
DEAD_REDIS = "redis://127.0.0.1:1/0"


async def _client(
    settings: Settings, db: Database, cache: Cache, clock: ManualClock
) -> tuple[httpx.AsyncClient, Services]:
    services = build_services(settings, db=db, clock=clock, cache=cache, master_key=MASTER_KEY)
    transport = httpx.ASGITransport(app=create_app(settings, services), client=("203.0.113.8", 1))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver"), services


@pytest.fixture
async def redis_down(
    settings: Settings, db: Database, clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    """The same database as ``client``, with a Redis that is not there."""
    http, services = await _client(settings, db, RedisCache.from_url(DEAD_REDIS), clock)
    async with http:
        yield http
    await services.cache.close()


@pytest.fixture
async def database_down(settings: Settings, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    """A database that is not there, and the in-process cache."""
    db = Database.from_url(DEAD_POSTGRES)
    http, _ = await _client(settings, db, MemoryCache(), clock)
    async with http:
        yield http
    await db.dispose()


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Records with a traceback from the request path. (Background writers of earlier
    tests, still flushing to their closed databases, are not this test's business.)"""
    paths = ("propusk.web", "propusk.storage", "propusk.exchange", "propusk.guard")
    return [r.getMessage() for r in caplog.records if r.exc_info and r.name.startswith(paths)]


def _outage_lines(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(name)]


async def test_status_reports_each_backend(client: httpx.AsyncClient, cache: Cache) -> None:
    redis = "ok" if isinstance(cache, RedisCache) else "not configured"
    r = await client.get("/status")
    assert r.status_code == 200 and "retry-after" not in r.headers
    assert r.json() == {"status": "ok", "version": __version__, "database": "ok", "redis": redis}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": redis}
    assert r.headers["cache-control"] == "no-store"


async def test_a_dead_redis_is_reported_and_logged_once(
    redis_down: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(3):
        r = await redis_down.get("/status")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.json() == {
            "status": "degraded",
            "version": __version__,
            "database": "ok",
            "redis": "unavailable",
        }
        r = await redis_down.get("/readyz")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.json() == {"status": "unavailable", "database": "ok", "redis": "unavailable"}
        assert (await redis_down.get("/livez")).json() == {"status": "ok"}  # no backend work
    assert len(_outage_lines(caplog, "redis unreachable")) == 1
    assert _tracebacks(caplog) == []


async def test_a_dead_database_is_reported_and_every_route_that_needs_it_is_503(
    database_down: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    r = await database_down.get("/status")
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["database"] == "unavailable" and r.json()["redis"] == "not configured"
    r = await database_down.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "redis": "not configured",
    }
    assert (await database_down.get("/livez")).status_code == 200

    login = {"username": "someone@example.com", "password": "whatever it is"}
    for r in (
        await database_down.post("/v1/auth/login", json=login),
        await database_down.post("/v1/auth/refresh", json={"token": "propusk_rt_" + "a" * 40}),
        await database_down.get("/v1/user/address/exists", params={"email": "a@example.com"}),
        await database_down.get("/.well-known/jwks.json"),
    ):
        assert r.status_code == 503, (r.request.url, r.text)
        assert r.headers["retry-after"] == "2"
        assert r.json() == {
            "error": "unavailable",
            "message": "The service is temporarily unavailable, try again shortly",
        }
    # The exchange answers in its envelope, with the status and Retry-After of an outage.
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    r = await database_down.post(
        "/public/auth/", json={"keyId": "k1", "timestamp": now, "signature": "AAAA"}
    )
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["code"] == "ERROR" and r.json()["body"] is None
    # A process that never read its keyring (it started during the outage) cannot open
    # console sessions either: an error page, with Retry-After.
    r = await database_down.get("/console/login")
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.headers["content-type"].startswith("text/html")
    assert len(_outage_lines(caplog, "database unreachable")) == 1
    assert _tracebacks(caplog) == []


async def test_a_dead_redis_is_503_only_where_redis_is_needed(
    client: httpx.AsyncClient, redis_down: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """Set up through the working app; then the same database with Redis gone."""
    owner, org, apps = await owner_with_org(client, mailbox, "redis-down@example.com")
    made = await client.post(
        f"/v1/orgs/{org}/service-keys",
        json={"name": "ci", "methods": ["reviews.read"], "appIds": apps},
        headers=owner,
    )
    key_id, private = made.json()["keyId"], load_private(made.json()["privateKey"])
    # Needs no Redis: the server's own API with a Bearer token, the guarded demo API.
    assert (await redis_down.get("/v1/user/profile", headers=owner)).status_code == 200
    assert (await redis_down.get(f"/demo/apps/{apps[0]}", headers=owner)).status_code == 200
    # Needs Redis: the login throttle, the exchange's replay marker, the look-up throttle.
    r = await redis_down.post(
        "/v1/auth/login", json={"username": "redis-down@example.com", "password": "x" * 12}
    )
    assert r.status_code == 503 and r.json()["error"] == "unavailable"
    assert r.headers["retry-after"] == "2"
    r = await exchange(redis_down, key_id, private, datetime.now(UTC))
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["code"] == "ERROR" and r.json()["body"] is None
    r = await redis_down.get("/v1/user/address/exists", params={"email": "a@example.com"})
    assert r.status_code == 503 and r.json()["error"] == "unavailable"


async def test_a_signed_in_console_page_is_a_503_page_not_a_sign_out(
    app: FastAPI, settings: Settings, db: Database, clock: ManualClock, mailbox: Mailbox
) -> None:
    async with console_client(app) as up:
        person = Console(up)
        await person.sign_up(mailbox, "console-outage@example.com")
        org = await person.create_org("Studio")
        cookies = up.cookies
    services = build_services(
        settings, db=db, clock=clock, cache=RedisCache.from_url(DEAD_REDIS), master_key=MASTER_KEY
    )
    async with console_client(create_app(settings, services)) as down:
        down.cookies = cookies
        r = await down.get(f"/console/orgs/{org}/apps")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert "temporarily unavailable" in r.text
        assert "set-cookie" not in r.headers  # the session is kept for when Redis is back
    await services.cache.close()


async def test_the_app_starts_with_the_database_down_and_answers_503(
    tmp_path: Path, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The app's start-up does not fail on an unreachable database: it serves, /readyz
    says not ready, and requests get 503 until the database answers (``propusk serve``
    itself checks the schema before it starts the server, so this is the ASGI factory's
    case: a container that comes up before its database)."""
    caplog.set_level(logging.INFO)
    key = base64.urlsafe_b64encode(MASTER_KEY).decode()
    settings = make_settings(tmp_path, mailbox.port, database_url=DEAD_POSTGRES, master_key=key)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get("/livez")).status_code == 200
            r = await http.get("/readyz")
            assert r.status_code == 503 and r.json()["database"] == "unavailable"
            r = await http.post("/v1/auth/login", json={"username": "a@b.cd", "password": "x"})
            assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert "starting without the database" in caplog.text
    assert len(_outage_lines(caplog, "database unreachable")) == 1
    assert _tracebacks(caplog) == []


async def test_an_outage_is_503_from_introspection_never_an_inactive_token(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    clock: ManualClock,
    mailbox: Mailbox,
) -> None:
    """A resource server must hear "retry" for a token that may well be valid, not
    ``{"active": false}`` (which it would refuse, and may cache)."""
    owner, org, apps = await owner_with_org(client, mailbox, "rs-outage@example.com", apps=1)
    made = await client.post(
        f"/v1/orgs/{org}/service-keys",
        json={"name": "k", "methods": ["reviews.read"], "appIds": apps},
        headers=owner,
    )
    key_id, private = made.json()["keyId"], load_private(made.json()["privateKey"])
    token = (await exchange(client, key_id, private, clock.now())).json()["body"]["jwe"]
    rs = await introspector(client, services)
    db = Database.from_url(DEAD_POSTGRES)
    down, down_services = await _client(settings, db, MemoryCache(), clock)
    # This process read its keyring before the database went away (its tokens verify).
    await services.keyring.verification_keys()
    down_services.keyring._loaded = services.keyring._loaded
    down_services.keyring._loaded_at = services.keyring._loaded_at
    async with down:
        r = await down.post("/v1/introspect", data={"token": token}, headers=rs)
    await db.dispose()
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["error"] == "unavailable"
