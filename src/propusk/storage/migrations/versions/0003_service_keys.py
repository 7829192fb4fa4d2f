"""service keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 04:47:03.848756
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import propusk.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("public_der", sa.LargeBinary(), nullable=False),
        sa.Column("generated", sa.Boolean(), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("previous_public_der", sa.LargeBinary(), nullable=True),
        sa.Column("previous_valid_until", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("rotated_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("last_used_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_service_keys_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_service_keys")),
    )
    with op.batch_alter_table("service_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_keys_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("service_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_keys_org_id"))

    op.drop_table("service_keys")
