"""certificates

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import propusk.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ca_certificates",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("chain_pem", sa.Text(), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("retired_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("revocations", sa.Integer(), nullable=False),
        sa.Column("crl_number", sa.BigInteger(), nullable=False),
        sa.Column("crl_revocations", sa.Integer(), nullable=False),
        sa.Column("crl_der", sa.LargeBinary(), nullable=True),
        sa.Column("crl_this_update", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("crl_next_update", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["kid"],
            ["server_keys.kid"],
            name=op.f("fk_ca_certificates_kid_server_keys"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_ca_certificates")),
    )
    op.create_table(
        "certificate_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("csr_pem", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decided_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("certificate_serial", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_certificate_requests_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_requests")),
    )
    with op.batch_alter_table("certificate_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_requests_org_id"), ["org_id"], unique=False
        )
        batch_op.create_index(
            "ix_certificate_requests_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("ca_kid", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("not_before", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("not_after", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", propusk.storage.types.UTCDateTime(), nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("issued_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", propusk.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["certificate_requests.id"],
            name=op.f("fk_certificates_request_id_certificate_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_certificates")),
        sa.UniqueConstraint("thumbprint", name=op.f("uq_certificates_thumbprint")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_not_after"), ["not_after"], unique=False)
        batch_op.create_index("ix_certificates_org_id_status", ["org_id", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_certificates_revoked_at"), ["revoked_at"], unique=False
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cert_self_service", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("cert_self_service")

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_revoked_at"))
        batch_op.drop_index("ix_certificates_org_id_status")
        batch_op.drop_index(batch_op.f("ix_certificates_not_after"))

    op.drop_table("certificates")
    with op.batch_alter_table("certificate_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_certificate_requests_status_created_at")
        batch_op.drop_index(batch_op.f("ix_certificate_requests_org_id"))

    op.drop_table("certificate_requests")
    op.drop_table("ca_certificates")
