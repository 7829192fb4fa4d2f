"""api keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 05:44:18.901127
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

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_org_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("previous_digest", sa.String(length=64), nullable=True),
        utc("previous_valid_until", nullable=True),
        *scope(),
        sa.Column("status", sa.String(length=16), nullable=False),
        utc("expires_at", nullable=True),
        *timestamps(),
        utc("revoked_at", nullable=True),
        utc("last_used_at", nullable=True),
    )


def downgrade() -> None:
    drop_org_table("api_keys")
