"""organizations, memberships, apps

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 04:11:43.733685
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from propusk.storage.migration_builders import (
    create_indexes,
    create_org_table,
    drop_indexes,
    drop_org_table,
    foreign_key,
    id_column,
    org_id,
    primary_key,
    timestamps,
    utc,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        id_column(),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        utc("created_at"),
        foreign_key("organizations", "created_by", "accounts", "SET NULL"),
        primary_key("organizations", "id"),
    )
    create_org_table(
        "apps",
        id_column(),
        *timestamps(),
        unique_columns=[("org_id", "name")],
    )

    op.create_table(
        "memberships",
        org_id(),
        id_column("account_id"),
        sa.Column("role", sa.String(length=32), nullable=False),
        utc("created_at"),
        foreign_key("memberships", "account_id", "accounts", "CASCADE"),
        foreign_key("memberships", "org_id", "organizations", "CASCADE"),
        primary_key("memberships", "org_id", "account_id"),
    )
    create_indexes("memberships", ["account_id"])

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.VARCHAR(length=320), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.VARCHAR(length=320), nullable=False)

    drop_indexes("memberships", ["account_id"])
    op.drop_table("memberships")
    drop_org_table("apps")
    op.drop_table("organizations")
