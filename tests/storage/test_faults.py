"""Outages of the database and of Redis become ServiceUnavailable (503 + Retry-After at the
edge), logged once per outage; other database errors pass through unchanged.

These use real drivers against real closed ports on 127.0.0.1 (nothing listens on port 1),
so the errors are the ones a dead server gives.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from propusk.core.errors import ServiceUnavailable
from propusk.storage.cache import RedisCache
from propusk.storage.db import Database
from propusk.storage.faults import Outage

DEAD_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def _outage_lines(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(name)]


async def test_an_unreachable_database_is_unavailable_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = Database.from_url(DEAD_POSTGRES)
    caplog.set_level(logging.ERROR, logger="propusk.storage")
    try:
        for unit in (db.read, db.session, db.read):
            with pytest.raises(ServiceUnavailable) as caught:
                async with unit() as session:
                    await session.execute(text("SELECT 1"))
            assert caught.value.status == 503 and caught.value.retry_after >= 1
            assert caught.value.detail is not None and "database" in caught.value.detail
    finally:
        await db.dispose()
    lines = _outage_lines(caplog, "database unreachable")
    assert len(lines) == 1, lines  # one line for the outage, not one per request
    assert db.outage.down


async def test_an_unreachable_redis_is_unavailable_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = RedisCache.from_url(DEAD_REDIS)
    caplog.set_level(logging.ERROR, logger="propusk.storage")
    try:
        for call in (
            lambda: cache.add("replay:x", 5),
            lambda: cache.incr("throttle:x", 5),
            lambda: cache.peek("throttle:x"),
            lambda: cache.delete("replay:x"),
        ):
            with pytest.raises(ServiceUnavailable):
                await call()
    finally:
        await cache.close()
    assert len(_outage_lines(caplog, "redis unreachable")) == 1


async def test_constraint_violations_are_not_outages(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'faults.db'}")
    try:
        async with db.session() as session:
            await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            await session.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(IntegrityError):
            async with db.session() as session:
                await session.execute(text("INSERT INTO t VALUES (1)"))
        async with db.read() as session:  # the failed unit of work wrote nothing
            assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 1
        assert not db.outage.down
    finally:
        await db.dispose()


def test_an_outage_is_logged_when_it_starts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    outage = Outage("database", retry_after=3, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="propusk.storage")
    outage.ok()  # up, and staying up: nothing to say
    errors = [outage.failed(ConnectionRefusedError("refused")) for _ in range(5)]
    assert all(e.retry_after == 3 for e in errors)
    now[0] = 107.5
    outage.ok()
    outage.ok()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "database unreachable: ConnectionRefusedError: refused",
        "database is back after 7.5 s",
    ]


async def test_a_missing_table_is_not_an_outage(tmp_path: Path) -> None:
    """sqlite3 calls a missing table an OperationalError too; it is a schema problem."""
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(OperationalError, match="no such table"):
            async with db.read() as session:
                await session.execute(text("SELECT * FROM nowhere"))
        assert not db.outage.down
    finally:
        await db.dispose()


def test_a_success_that_began_before_the_outage_does_not_end_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Requests in flight when the backend goes away finish in any order: one that got
    through just before must not log a recovery between two failures of one outage."""
    now = [10.0]
    outage = Outage("redis", clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="propusk.storage")
    early = outage.now()  # began while all was well...
    now[0] = 11.0
    outage.failed(ConnectionResetError("reset"))
    now[0] = 11.5
    outage.ok(early)  # ...and finished after the first failure: no recovery
    assert outage.down
    outage.failed(ConnectionRefusedError("refused"))
    now[0] = 14.0
    outage.ok(outage.now())  # began after the outage did: the backend is back
    assert not outage.down
    assert [r.getMessage() for r in caplog.records] == [
        "redis unreachable: ConnectionResetError: reset",
        "redis is back after 3.0 s",
    ]


class _AdapterError(Exception):
    """As SQLAlchemy's asyncpg adapter translates some driver errors: its own class,
    the driver's exception as the cause, the SQLSTATE copied."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "outage"),
    [
        ("57P03", True),  # the database system is shutting down / starting up
        ("57P01", True),  # terminating connection due to administrator command
        ("08006", True),  # connection failure
        ("53300", True),  # too many connections
        ("23505", False),  # a unique violation is the caller's, not an outage
        (None, False),
    ],
)
def test_translated_driver_errors_are_outages_by_their_sqlstate(
    sqlstate: str | None, outage: bool
) -> None:
    from sqlalchemy.exc import DBAPIError

    from propusk.storage.faults import is_database_outage

    error = DBAPIError(
        "SELECT 1", {}, _AdapterError("the database system is shutting down", sqlstate)
    )
    assert is_database_outage(error) is outage


def test_the_driver_error_behind_a_translated_one_counts() -> None:
    import asyncpg.exceptions
    from sqlalchemy.exc import DBAPIError

    from propusk.storage.faults import is_database_outage

    translated = _AdapterError("the database system is shutting down", None)
    translated.__cause__ = asyncpg.exceptions.CannotConnectNowError("shutting down")
    assert is_database_outage(DBAPIError("SELECT 1", {}, translated))
