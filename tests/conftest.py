"""Fixtures: a real database (SQLite by default, PostgreSQL with PROPUSK_TEST_DATABASE_URL)
with one transaction rolled back per test, a real SMTP server, and the app over ASGI.

CI=true turns "service unreachable" into a failure instead of a skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from propusk.config import Settings, load_settings
from propusk.storage import migrate
from propusk.storage.cache import Cache, MemoryCache, RedisCache
from propusk.storage.db import Database, create_engine
from propusk.web.app import create_app
from propusk.wiring import Services, build_services
from tests.support import Mailbox, ManualClock

IN_CI = os.environ.get("CI") == "true"
MASTER_KEY = secrets.token_bytes(32)
REDIS_URL = os.environ.get("PROPUSK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("PROPUSK_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'propusk.db'}"


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    """Bring the test database to a clean head: down to nothing, then up again."""
    migrate.downgrade(database_url, "base") if _has_schema(database_url) else None
    migrate.upgrade(database_url)
    return database_url


def _has_schema(url: str) -> bool:
    import asyncio

    return asyncio.run(migrate.current_revision(url)) is not None


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


def make_settings(tmp: Path, mailbox_port: int, **overrides: Any) -> Settings:
    # Cheap argon2 parameters keep the suite fast; tests of the real parameters set them.
    base: dict[str, Any] = {
        "mode": "development",
        "data_dir": tmp,
        "issuer": "http://testserver",
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox_port,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
    }
    base.update(overrides)
    return load_settings(environ={}, **base)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its tests."""
    return {}


@pytest.fixture
def settings(
    tmp_path: Path, mailbox: Mailbox, settings_overrides: dict[str, Any], migrated: str
) -> Settings:
    return make_settings(tmp_path, mailbox.port, database_url=migrated, **settings_overrides)


@pytest.fixture(scope="session")
async def engine(migrated: str) -> AsyncIterator[Any]:
    eng = create_engine(migrated)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
async def signing_key_ready(engine: Any, migrated: str) -> None:
    """One committed signing key for the whole session (RSA generation is slow)."""
    from propusk.services.keyring import Keyring

    await Keyring(Database(engine), MASTER_KEY, ManualClock()).ensure_signing_key()


@pytest.fixture
async def db(engine: Any, signing_key_ready: None) -> AsyncIterator[Database]:
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield Database(engine, bind=conn)
        await outer.rollback()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def _redis_or_skip() -> RedisCache:
    cache = RedisCache.from_url(REDIS_URL, prefix=f"test:{secrets.token_hex(6)}:")
    try:
        await cache.peek("ping")
    except Exception as exc:
        await cache.close()
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    return cache


@pytest.fixture(params=["memory", "redis"])
async def any_cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    """Each test using it runs against both cache backends."""
    cache: Cache = MemoryCache() if request.param == "memory" else await _redis_or_skip()
    yield cache
    await cache.close()


@pytest.fixture
async def cache() -> AsyncIterator[Cache]:
    """The app's cache: Redis when PROPUSK_TEST_REDIS_URL is set (the CI Redis run)."""
    if os.environ.get("PROPUSK_TEST_REDIS_URL"):
        redis = await _redis_or_skip()
        yield redis
        await redis.close()
    else:
        memory = MemoryCache()
        yield memory


@pytest.fixture
async def services(
    settings: Settings, db: Database, clock: ManualClock, cache: Cache, mailbox: Mailbox
) -> Services:
    mailbox.clear()
    return build_services(settings, db=db, clock=clock, cache=cache, master_key=MASTER_KEY)


@pytest.fixture
def app(settings: Settings, services: Services) -> FastAPI:
    return create_app(settings, services)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
