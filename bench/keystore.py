"""The exchange benchmark's key store: a throw-away PostgreSQL database, and service keys
inserted straight into ``service_keys`` (creating 100,000 keys through the API would take
longer than the whole benchmark: each one is an owner check, a scope check and an audit
event).

The PostgreSQL server is the one at ``BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``, a maintenance database to connect to);
the benchmark creates its own database there, ``propusk_bench_<random>``, and drops it at
the end whatever happens. Nothing else on that server is touched.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from bench.rawload import run_loop
from propusk.storage.db import create_engine, is_sqlite
from propusk.storage.models import AuditEvent, ServiceKey

__all__ = [
    "POSTGRES_ENV",
    "admin_url",
    "backend_pids",
    "count_refusals_since",
    "count_used_since",
    "describe_postgres",
    "insert_keys",
    "postgres_database",
]

POSTGRES_ENV = "BENCH_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
_BATCH = 5_000


def admin_url() -> str:
    """The URL of the maintenance database to connect to (``BENCH_POSTGRES_URL``)."""
    return os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES


_admin_url = admin_url


async def _admin(statement: str) -> None:
    import asyncpg

    url = make_url(_admin_url()).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_database(name: str | None = None) -> Iterator[str]:
    """A new, empty database on the benchmark's PostgreSQL server (``name``, by default
    ``propusk_bench_<random>``); yields its ``postgresql+asyncpg://`` URL and drops it
    (``WITH (FORCE)``) at the end. Raises OSError or asyncpg's errors when the server
    cannot be reached."""
    name = name or f"propusk_bench_{secrets.token_hex(4)}"
    run_loop(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(_admin_url()).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        run_loop(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def describe_postgres() -> str:
    """Where the benchmark's databases are made (the URL without a password)."""
    return make_url(_admin_url()).render_as_string(hide_password=True)


async def _insert(
    database_url: str,
    org_id: str,
    apps: Sequence[str],
    methods: Sequence[str],
    public_der: bytes,
    count: int,
    now: datetime,
    last_used_at: datetime,
) -> list[str]:
    engine = create_engine(database_url)
    key_ids = [str(uuid.uuid4()) for _ in range(count)]
    try:
        async with engine.begin() as connection:
            if is_sqlite(database_url):
                await connection.execute(text("PRAGMA busy_timeout=30000"))
            for start in range(0, count, _BATCH):
                rows = [
                    {
                        "key_id": key_id,
                        "org_id": org_id,
                        "name": f"bench key {start + offset}",
                        "public_der": public_der,
                        "generated": False,
                        "apps": list(apps),
                        "methods": list(methods),
                        "status": "active",
                        "generation": 1,
                        "created_at": now,
                        "updated_at": now,
                        "last_used_at": last_used_at,
                    }
                    for offset, key_id in enumerate(key_ids[start : start + _BATCH])
                ]
                await connection.execute(insert(ServiceKey), rows)
            total = await connection.scalar(select(func.count()).select_from(ServiceKey))
            if total is None:
                raise RuntimeError("could not count the service keys")
    finally:
        await engine.dispose()
    return key_ids


def insert_keys(
    database_url: str,
    org_id: str,
    *,
    apps: Sequence[str],
    methods: Sequence[str],
    public_der: bytes,
    count: int,
    now: datetime,
    last_used_at: datetime,
) -> list[str]:
    """Insert ``count`` active keys of ``org_id`` sharing one public key, in one
    transaction; their key ids. ``last_used_at`` is what an exchange compares with to
    decide whether to write it again (at most once a minute per key)."""
    result: list[str] = run_loop(
        _insert(database_url, org_id, apps, methods, public_der, count, now, last_used_at)
    )
    return result


async def _count(database_url: str, since: datetime) -> tuple[int, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            used = await connection.scalar(
                select(func.count()).select_from(ServiceKey).where(ServiceKey.last_used_at >= since)
            )
            total = await connection.scalar(select(func.count()).select_from(ServiceKey))
    finally:
        await engine.dispose()
    return int(used or 0), int(total or 0)


def count_used_since(database_url: str, since: datetime) -> tuple[int, int]:
    """(keys whose ``last_used_at`` is at or after ``since``, keys in the store)."""
    result: tuple[int, int] = run_loop(_count(database_url, since))
    return result


async def _refusals(database_url: str, since: datetime) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.kind == "service_key.exchange",
                    AuditEvent.outcome == "fail",
                    AuditEvent.at >= since,
                )
            )
    finally:
        await engine.dispose()
    return int(count or 0)


def count_refusals_since(database_url: str, since: datetime) -> int:
    """Audit events of refused exchanges written at or after ``since``."""
    result: int = run_loop(_refusals(database_url, since))
    return result


async def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL backend processes serving ``database_url`` now (the server's pool)."""
    import asyncpg

    url = make_url(database_url)
    admin = make_url(_admin_url()).set(drivername="postgresql")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
    finally:
        await connection.close()
    return [int(row["pid"]) for row in rows]
