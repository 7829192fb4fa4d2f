"""The database handle: an async engine and session factory for SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from propusk.storage.faults import Outage, is_database_outage

__all__ = ["CONNECT_TIMEOUT", "Database", "create_engine", "is_sqlite"]

CONNECT_TIMEOUT = 5.0  # seconds to open a PostgreSQL connection before it is an outage


async def _quiet_rollback(session: AsyncSession) -> None:
    """Roll back; on a connection that is already gone the rollback fails too, and the
    original error is the one worth raising."""
    try:
        await session.rollback()
    except Exception as exc:
        if not is_database_outage(exc):
            raise


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside one writer; the busy timeout makes a second writer wait
    # instead of failing at once; SQLite leaves foreign keys off unless asked.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module opens transactions lazily and not before SAVEPOINT, which breaks
    # nested transactions; take over: no implicit transactions, BEGIN emitted below.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock at the start, so two units of work that read then
    # write wait for each other (busy_timeout) instead of failing on a lock upgrade.
    # Read-only units of work (Database.read) begin DEFERRED: under WAL they never wait
    # for a writer.
    readonly = connection.get_execution_options().get("propusk_readonly", False)
    connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _sqlite_manual_transactions)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    # asyncpg waits 60 s for a connection by default; a server that does not answer (a
    # network partition rather than a refused port) should become a 503 sooner.
    kwargs.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT})
    return create_async_engine(url, **kwargs)


class Database:
    """Hands out sessions. Each ``session()`` is one unit of work: commit on success,
    roll back on any exception, so a failed request never leaves a partial write."""

    def __init__(self, engine: AsyncEngine, *, bind: AsyncConnection | None = None) -> None:
        self.engine = engine
        # An unreachable database is a 503 with Retry-After, logged once per outage.
        self.outage = Outage("database")
        if bind is None:
            self._factory = async_sessionmaker(engine, expire_on_commit=False)
            self._read_factory = async_sessionmaker(
                engine.execution_options(propusk_readonly=True), expire_on_commit=False
            )
        else:
            # Tests bind to one connection inside an outer transaction; each unit of work
            # becomes a savepoint so the test can roll everything back at the end.
            self._factory = async_sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            self._read_factory = self._factory

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work; ServiceUnavailable when the database cannot be reached."""
        started = self.outage.now()
        try:
            async with self._factory() as session:
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await _quiet_rollback(session)
                    raise
        except BaseException as exc:
            if is_database_outage(exc):
                raise self.outage.failed(exc) from None
            raise
        self.outage.ok(started)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: never commits, and on SQLite does not take the write
        lock, so health checks and token checks do not queue behind writers."""
        # Closing (not rolling back) ends the transaction when the connection goes back to
        # the pool, and leaves loaded objects readable (a rollback would expire them).
        started = self.outage.now()
        try:
            async with self._read_factory() as session:
                yield session
        except BaseException as exc:
            if is_database_outage(exc):
                raise self.outage.failed(exc) from None
            raise
        self.outage.ok(started)

    async def dispose(self) -> None:
        await self.engine.dispose()
