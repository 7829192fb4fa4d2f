"""A PostgreSQL database and a Redis database of a test's own, for servers that share state.

They live on the servers that CI's second pass names (``PROPUSK_TEST_DATABASE_URL``,
``PROPUSK_TEST_REDIS_URL``), but never in the ``test`` database or the Redis database of
those URLs themselves: the suite's fixtures migrate and use those, and the servers a test
starts must not share them. Without the two variables, the tests that need them skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis
from sqlalchemy.engine import make_url

__all__ = ["NEEDS_SHARED_STATE", "fetch", "own_database", "own_redis", "sql"]

DATABASE_URL = os.environ.get("PROPUSK_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PROPUSK_TEST_REDIS_URL", "")

NEEDS_SHARED_STATE = pytest.mark.skipif(
    not (DATABASE_URL.startswith("postgresql") and REDIS_URL),
    reason="needs PostgreSQL and Redis: PROPUSK_TEST_DATABASE_URL (postgresql+asyncpg://…)"
    " and PROPUSK_TEST_REDIS_URL (CI's second pass)",
)


def _plain(url: str, database: str) -> str:
    """``url`` on another database, in the form asyncpg takes (no ``+asyncpg``)."""
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Run one statement on the database of ``url`` (a SQLAlchemy URL); its rows."""
    conn = await asyncpg.connect(_plain(url, make_url(url).database or "postgres"))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def sql(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """:func:`fetch` outside an event loop."""
    return asyncio.run(fetch(url, query, *args))


@contextmanager
def own_database() -> Iterator[str]:
    """A new, empty database ``propusk_nodes_<random>`` on the test server (dropped at the
    end, connections and all); yields its SQLAlchemy URL."""
    name = f"propusk_nodes_{secrets.token_hex(6)}"
    # CREATE and DROP DATABASE run from another database of the same server.
    admin = make_url(DATABASE_URL).set(database="postgres").render_as_string(False)
    sql(admin, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def own_redis() -> Iterator[str]:
    """A Redis database number on the test server that is neither the suite's nor 0, and
    empty now; yields its URL and flushes that database (only it) at the end."""
    base = urlsplit(REDIS_URL)
    taken = {0, int(base.path.strip("/") or 0)}
    with redis.Redis.from_url(REDIS_URL) as client:
        try:
            count = int(client.config_get("databases")["databases"])
        except (redis.ResponseError, KeyError):
            count = 16  # Redis's default, where CONFIG is not allowed
        used = set(client.info("keyspace"))  # {"db15": {...}, ...}: those holding keys
    empty = [n for n in range(count) if n not in taken and f"db{n}" not in used]
    if not empty:
        pytest.fail(f"no empty Redis database on {REDIS_URL} for the test's servers")
    # A random one of them: two test runs at once rarely pick the same.
    url = urlunsplit(base._replace(path=f"/{secrets.choice(empty)}"))
    try:
        yield url
    finally:
        with redis.Redis.from_url(url) as mine:
            mine.flushdb()
