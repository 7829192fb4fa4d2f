"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 03:59:52.106322
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from propusk.storage.migration_builders import (
    IndexSpec,
    Named,
    create_indexes,
    drop_indexes,
    foreign_key,
    id_column,
    primary_key,
    timestamps,
    unique,
    utc,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


AUDIT_INDEXES: list[IndexSpec] = [
    "actor_id",
    "at",
    Named("ix_audit_events_kind_at", ("kind", "at")),
    "org_id",
]
REFRESH_INDEXES: list[IndexSpec] = ["account_id", "family_id"]


def upgrade() -> None:
    op.create_table(
        "accounts",
        id_column(),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=True),
        utc("email_confirmed_at", nullable=True),
        *timestamps(),
        foreign_key("accounts", "owner_id", "accounts", "SET NULL"),
        primary_key("accounts", "id"),
        unique("accounts", "email"),
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        utc("at"),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("org_id", sa.String(length=36), nullable=True),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        primary_key("audit_events", "id"),
    )
    create_indexes("audit_events", AUDIT_INDEXES)

    op.create_table(
        "server_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_der", sa.LargeBinary(), nullable=True),
        sa.Column("sealed_private", sa.LargeBinary(), nullable=False),
        utc("created_at"),
        utc("retired_at", nullable=True),
        utc("verify_until", nullable=True),
        primary_key("server_keys", "kid"),
    )
    create_indexes("server_keys", ["purpose"])

    op.create_table(
        "account_roles",
        id_column("account_id"),
        sa.Column("role", sa.String(length=64), nullable=False),
        foreign_key("account_roles", "account_id", "accounts", "CASCADE"),
        primary_key("account_roles", "account_id", "role"),
    )
    op.create_table(
        "addresses",
        id_column(),
        id_column("account_id"),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        utc("created_at"),
        foreign_key("addresses", "account_id", "accounts", "CASCADE"),
        primary_key("addresses", "id"),
        unique("addresses", "account_id", "address"),
    )
    op.create_table(
        "email_tokens",
        id_column(),
        id_column("account_id"),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        utc("created_at"),
        utc("expires_at"),
        utc("used_at", nullable=True),
        foreign_key("email_tokens", "account_id", "accounts", "CASCADE"),
        primary_key("email_tokens", "id"),
        unique("email_tokens", "digest"),
    )
    create_indexes("email_tokens", ["account_id"])

    op.create_table(
        "refresh_tokens",
        id_column(),
        id_column("account_id"),
        id_column("family_id"),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        utc("issued_at"),
        utc("expires_at"),
        utc("used_at", nullable=True),
        utc("revoked_at", nullable=True),
        foreign_key("refresh_tokens", "account_id", "accounts", "CASCADE"),
        primary_key("refresh_tokens", "id"),
        unique("refresh_tokens", "digest"),
    )
    create_indexes("refresh_tokens", REFRESH_INDEXES)

    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    drop_indexes("refresh_tokens", reversed(REFRESH_INDEXES))
    op.drop_table("refresh_tokens")
    drop_indexes("email_tokens", ["account_id"])
    op.drop_table("email_tokens")
    op.drop_table("addresses")
    op.drop_table("account_roles")
    drop_indexes("server_keys", ["purpose"])
    op.drop_table("server_keys")
    drop_indexes("audit_events", reversed(AUDIT_INDEXES))
    op.drop_table("audit_events")
    op.drop_table("accounts")


# The audit log is append-only in the database itself, not only by convention: a trigger
# refuses UPDATE and DELETE on both SQLite and PostgreSQL.
def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{action.lower()} BEFORE {action} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
