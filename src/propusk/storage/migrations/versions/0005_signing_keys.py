"""signing keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 06:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from propusk.storage.migration_builders import (
    create_org_table,
    drop_org_table,
    id_column,
    scope,
    timestamps,
    utc,
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_org_table(
        "signing_keys",
        id_column("key_id"),
        sa.Column("public_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("login", sa.String(length=128), nullable=True),
        sa.Column("terminal_id", sa.String(length=64), nullable=True),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        *scope(),
        sa.Column("allowed_ips", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("replay_window", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *timestamps(),
        utc("last_used_at", nullable=True),
        unique_columns=[("login",), ("terminal_id",)],
    )


def downgrade() -> None:
    drop_org_table("signing_keys")
