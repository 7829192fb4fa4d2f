"""The DDL the migrations emit is frozen: shipped migrations have run on deployed databases,
and they share builders (``storage/migration_builders.py``), so a change to a builder or an
old migration must not change what a migration creates. The files in
``tests/vectors/migrations/`` are the PostgreSQL DDL, rendered offline (SQLite's batch
table rebuilds need a live database; the round trip in test_migrations.py covers them).

After adding a migration, regenerate them with
``PROPUSK_WRITE_DDL=1 pytest tests/storage/test_migration_ddl.py`` and review the diff:
only the new migration's statements may appear.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from propusk.storage import migrate

VECTORS = Path(__file__).parent.parent / "vectors" / "migrations"


def _offline_ddl(direction: str) -> str:
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql",
        opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True},
    )
    scripts = ScriptDirectory.from_config(migrate.alembic_config("postgresql://"))
    revisions = list(scripts.walk_revisions("base", "heads"))  # newest first
    if direction == "upgrade":
        revisions.reverse()
    with Operations.context(context):
        for revision in revisions:
            buffer.write(f"-- {direction} {revision.revision}\n")
            getattr(revision.module, direction)()
    return buffer.getvalue()


@pytest.mark.parametrize("direction", ["upgrade", "downgrade"])
def test_the_migrations_emit_the_ddl_they_always_have(direction: str) -> None:
    ddl = _offline_ddl(direction)
    expected = VECTORS / f"postgresql-{direction}.sql"
    if os.environ.get("PROPUSK_WRITE_DDL"):
        expected.write_text(ddl)
    assert ddl == expected.read_text()
