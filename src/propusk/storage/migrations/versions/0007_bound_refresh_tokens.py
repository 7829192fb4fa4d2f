"""refresh tokens remember the client certificate their family is bound to (RFC 8705)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cert_thumbprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("cert_thumbprint")
