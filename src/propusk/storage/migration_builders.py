"""Builders for the column groups, constraints and indexes the migrations repeat.

FROZEN: migrations that have run on deployed databases call these, so a change here would
change what those migrations create. Never change a builder's output; add a new one for a
new shape. ``tests/storage/test_migration_ddl.py`` pins the DDL every migration emits.

The names are the ones the models' naming convention gives (``storage/models.py``), marked
with ``op.f`` as Alembic's autogenerate writes them: ``pk_<table>``, ``fk_<table>_<column>_
<target>``, ``uq_<table>_<first column>``, ``ix_<table>_<column>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from propusk.storage.types import UTCDateTime

__all__ = [
    "IndexSpec",
    "Named",
    "create_indexes",
    "create_org_table",
    "drop_indexes",
    "drop_org_table",
    "foreign_key",
    "id_column",
    "org_id",
    "primary_key",
    "scope",
    "timestamps",
    "unique",
    "utc",
]


def id_column(name: str = "id") -> sa.Column[str]:
    """A UUID-sized (36 characters) id, required."""
    return sa.Column(name, sa.String(length=36), nullable=False)


def org_id() -> sa.Column[str]:
    """The organization a row belongs to (pair it with ``foreign_key(…, "org_id", …)``)."""
    return id_column("org_id")


def utc(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    """An aware UTC time (``types.UTCDateTime``)."""
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def timestamps() -> tuple[sa.Column[datetime], sa.Column[datetime]]:
    """``created_at`` and ``updated_at``, both required."""
    return utc("created_at"), utc("updated_at")


def scope() -> tuple[sa.Column[Any], sa.Column[Any]]:
    """A credential's scope: ``apps`` and ``methods``, JSON lists, both required."""
    return sa.Column("apps", sa.JSON(), nullable=False), sa.Column(
        "methods", sa.JSON(), nullable=False
    )


def primary_key(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def foreign_key(
    table: str, column: str, target: str, ondelete: str, target_column: str = "id"
) -> sa.ForeignKeyConstraint:
    """``table.column`` refers to ``target.target_column``."""
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.{target_column}"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{columns[0]}"))


@dataclass(frozen=True)
class Named:
    """An index with a name of its own (not ``ix_<table>_<column>``), over ``columns``."""

    name: str
    columns: tuple[str, ...] = ()


IndexSpec = str | Named  # a column name (its index has the conventional name), or a Named


def create_indexes(table: str, indexes: Iterable[IndexSpec]) -> None:
    """Create the (non-unique) indexes, in order, in one batch on ``table``."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for index in indexes:
            if isinstance(index, Named):
                batch_op.create_index(index.name, list(index.columns), unique=False)
            else:
                batch_op.create_index(batch_op.f(f"ix_{table}_{index}"), [index], unique=False)


def drop_indexes(table: str, indexes: Iterable[IndexSpec]) -> None:
    """Drop the indexes, in order, in one batch on ``table``."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for index in indexes:
            if isinstance(index, Named):
                batch_op.drop_index(index.name)
            else:
                batch_op.drop_index(batch_op.f(f"ix_{table}_{index}"))


def create_org_table(
    table: str,
    key: sa.Column[Any],
    *columns: sa.Column[Any],
    named: bool = True,
    unique_columns: Iterable[tuple[str, ...]] = (),
) -> None:
    """A table of an organization's items: ``key`` (the primary key), ``org_id`` (a
    foreign key to ``organizations``, rows deleted with it, and indexed), ``name``
    (255 characters, required) unless not ``named``, then ``columns``; the foreign key,
    the primary key, then a unique constraint over each of ``unique_columns``."""
    name = [sa.Column("name", sa.String(length=255), nullable=False)] if named else []
    # Made here, in this order, after the columns: a table renders its constraints in the
    # order they were made, and that order is in the DDL these migrations have emitted.
    constraints = [
        foreign_key(table, "org_id", "organizations", "CASCADE"),
        primary_key(table, key.name),
        *(unique(table, *group) for group in unique_columns),
    ]
    op.create_table(table, key, org_id(), *name, *columns, *constraints)
    create_indexes(table, ["org_id"])


def drop_org_table(table: str) -> None:
    """Undo :func:`create_org_table`."""
    drop_indexes(table, ["org_id"])
    op.drop_table(table)
