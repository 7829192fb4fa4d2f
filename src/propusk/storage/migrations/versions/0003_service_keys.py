"""service keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 04:47:03.848756
"""

from __future__ import annotations

import sqlalchemy as sa

from propusk.storage.migration_builders import (
    create_org_table,
    drop_org_table,
    scope,
    timestamps,
    utc,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_org_table(
        "service_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_der", sa.LargeBinary(), nullable=False),
        sa.Column("generated", sa.Boolean(), nullable=False),
        *scope(),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("previous_public_der", sa.LargeBinary(), nullable=True),
        utc("previous_valid_until", nullable=True),
        *timestamps(),
        utc("rotated_at", nullable=True),
        utc("last_used_at", nullable=True),
    )


def downgrade() -> None:
    drop_org_table("service_keys")
