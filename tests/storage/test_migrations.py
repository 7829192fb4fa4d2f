"""Migrations: they match the models, and the audit log refuses UPDATE and DELETE."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from propusk.storage import migrate
from propusk.storage.db import Database
from propusk.storage.models import AuditEvent, Base


async def test_database_is_at_head(migrated: str) -> None:
    assert await migrate.current_revision(migrated) == migrate.head_revision()


async def test_models_and_migrations_agree(engine: Any) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


@pytest.mark.parametrize("statement", ["update", "delete"])
async def test_audit_log_is_append_only(db: Database, statement: str) -> None:
    async with db.session() as session:
        session.add(AuditEvent(at=datetime.now(UTC), kind="test", actor_type="system", data={}))
    change = (
        update(AuditEvent).values(kind="rewritten") if statement == "update" else delete(AuditEvent)
    )
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.session() as session:
            await session.execute(change)


def test_upgrade_downgrade_upgrade_on_a_fresh_database(tmp_path: Any) -> None:
    # Sync on purpose: Alembic runs its own event loop, as `propusk db upgrade` does.
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(url)
    assert migrate.current_revision_sync(url) == migrate.head_revision()
    migrate.downgrade(url, "base")
    assert migrate.current_revision_sync(url) is None
    migrate.upgrade(url)
    assert migrate.current_revision_sync(url) == migrate.head_revision()
