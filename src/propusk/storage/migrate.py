"""Alembic, driven from code: no alembic.ini is needed to upgrade a deployment."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from propusk.storage.db import create_engine

__all__ = [
    "alembic_config",
    "current_revision",
    "current_revision_sync",
    "downgrade",
    "head_revision",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()


def _current(sync_conn: object) -> str | None:
    return MigrationContext.configure(sync_conn).get_current_revision()  # type: ignore[arg-type]


def current_revision_sync(url: str) -> str | None:
    return asyncio.run(current_revision(url))
