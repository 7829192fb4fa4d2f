"""signing keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 06:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import propusk.storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("public_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("login", sa.String(length=128), nullable=True),
        sa.Column("terminal_id", sa.String(length=64), nullable=True),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("allowed_ips", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("replay_window", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_signing_keys_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("login", name=op.f("uq_signing_keys_login")),
        sa.UniqueConstraint("terminal_id", name=op.f("uq_signing_keys_terminal_id")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_keys_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_keys_org_id"))

    op.drop_table("signing_keys")
