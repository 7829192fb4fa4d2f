"""certificates

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from propusk.storage.migration_builders import (
    IndexSpec,
    Named,
    create_indexes,
    create_org_table,
    drop_indexes,
    drop_org_table,
    foreign_key,
    id_column,
    org_id,
    primary_key,
    scope,
    unique,
    utc,
)

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# The CA operators' queue: requests by status, oldest first.
REQUEST_QUEUE_INDEX = Named("ix_certificate_requests_status_created_at", ("status", "created_at"))
CERTIFICATE_INDEXES: list[IndexSpec] = [
    "not_after",
    Named("ix_certificates_org_id_status", ("org_id", "status")),
    "revoked_at",
]


def upgrade() -> None:
    op.create_table(
        "ca_certificates",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("chain_pem", sa.Text(), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        utc("created_at"),
        utc("retired_at", nullable=True),
        sa.Column("revocations", sa.Integer(), nullable=False),
        sa.Column("crl_number", sa.BigInteger(), nullable=False),
        sa.Column("crl_revocations", sa.Integer(), nullable=False),
        sa.Column("crl_der", sa.LargeBinary(), nullable=True),
        utc("crl_this_update", nullable=True),
        utc("crl_next_update", nullable=True),
        foreign_key("ca_certificates", "kid", "server_keys", "RESTRICT", target_column="kid"),
        primary_key("ca_certificates", "kid"),
    )
    create_org_table(
        "certificate_requests",
        id_column(),
        sa.Column("csr_pem", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        *scope(),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=True),
        utc("created_at"),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        utc("decided_at", nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("certificate_serial", sa.String(length=40), nullable=True),
        named=False,
    )
    create_indexes("certificate_requests", [REQUEST_QUEUE_INDEX])

    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        org_id(),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("ca_kid", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=False),
        *scope(),
        utc("not_before"),
        utc("not_after"),
        sa.Column("status", sa.String(length=16), nullable=False),
        utc("revoked_at", nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("issued_by", sa.String(length=36), nullable=True),
        utc("created_at"),
        foreign_key("certificates", "request_id", "certificate_requests", "SET NULL"),
        primary_key("certificates", "serial"),
        unique("certificates", "thumbprint"),
    )
    create_indexes("certificates", CERTIFICATE_INDEXES)

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cert_self_service", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("cert_self_service")

    drop_indexes("certificates", reversed(CERTIFICATE_INDEXES))
    op.drop_table("certificates")
    drop_indexes("certificate_requests", [REQUEST_QUEUE_INDEX])
    drop_org_table("certificate_requests")
    op.drop_table("ca_certificates")
