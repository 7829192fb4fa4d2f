"""api keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 05:44:18.901127
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import propusk.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("previous_digest", sa.String(length=64), nullable=True),
        sa.Column("previous_valid_until", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("last_used_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_api_keys_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_org_id"))

    op.drop_table("api_keys")
