"""The relational model. One table per concept; migrations in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from propusk.storage.types import UTCDateTime

__all__ = [
    "Account",
    "AccountRole",
    "Address",
    "ApiKey",
    "App",
    "AuditEvent",
    "Base",
    "CaCertificate",
    "Certificate",
    "CertificateRequest",
    "EmailToken",
    "Membership",
    "Organization",
    "RefreshToken",
    "ServerKey",
    "ServiceKey",
    "SigningKey",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Every time is an aware UTC datetime, on SQLite too: ``Mapped[datetime]`` alone is one.
    type_annotation_map = {datetime: UTCDateTime()}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="person")
    name: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    source: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    email_confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AccountRole(Base):
    __tablename__ = "account_roles"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(64), primary_key=True)


class Address(Base):
    __tablename__ = "addresses"
    __table_args__ = (UniqueConstraint("account_id", "address"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), default="node")
    created_at: Mapped[datetime]


class EmailToken(Base):
    """Single-use e-mail codes (confirmation, password reset); only a digest is kept."""

    __tablename__ = "email_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RefreshToken(Base):
    """One refresh token of a rotation family; only its digest is kept."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(36))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # RFC 8705: x5t#S256 of the client certificate the family was issued to over mutual
    # TLS; a refresh must then present the same certificate.
    cert_thumbprint: Mapped[str | None] = mapped_column(String(64))


class ServerKey(Base):
    """A server key in the keyring; private material sealed with the master key."""

    __tablename__ = "server_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_private: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
    verify_until: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only: triggers created by the migration refuse UPDATE and DELETE."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(8), default="ok")
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    org_id: Mapped[str | None] = mapped_column(String(36), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Organization(Base):
    """A company or an individual developer: the tenant every credential belongs to."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # Set by a server admin: the org's owners may approve its own certificate requests.
    cert_self_service: Mapped[bool] = mapped_column(default=False, server_default=false())


class Membership(Base):
    __tablename__ = "memberships"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class App(Base):
    """A resource of an organization that credentials are scoped to."""

    __tablename__ = "apps"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class _OrgCredential:
    """The columns every kind of credential has besides its own (they follow its own in
    the table): when it was created, changed and last used, the organization it belongs
    to, its name, its scope (apps and methods) and its status."""

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    apps: Mapped[list[str]] = mapped_column(JSON, default=list)
    methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")


class ServiceKey(_OrgCredential, Base):
    """An organization's service key (RuStore model): an RSA public key scoped to apps and
    methods. The private half is shown once at creation and never stored."""

    __tablename__ = "service_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_der: Mapped[bytes] = mapped_column(LargeBinary)
    generated: Mapped[bool] = mapped_column(default=True)
    # Bumped by every rotation, disable and enable: tokens carry the generation they were
    # issued under, and any other generation is refused.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    previous_public_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_valid_until: Mapped[datetime | None]
    rotated_at: Mapped[datetime | None]


class ApiKey(_OrgCredential, Base):
    """A managed API key ``propusk_<key_id>_<secret>``: only a keyed hash (HMAC-SHA256 with
    a pepper from the keyring) of the secret is stored, with its last four characters."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    last4: Mapped[str] = mapped_column(String(4))
    previous_digest: Mapped[str | None] = mapped_column(String(64))
    previous_valid_until: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SigningKey(_OrgCredential, Base):
    """A partner's public key for signed requests (spec section 3). ``login`` and
    ``terminal_id`` identify the partner without naming an organization in the request, so
    they are unique across the server. Only an argon2id hash of the XML password is kept."""

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    public_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_type: Mapped[str] = mapped_column(String(16))
    login: Mapped[str | None] = mapped_column(String(128), unique=True)
    terminal_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    algorithms: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    replay_window: Mapped[int] = mapped_column(Integer, default=0)


class CaCertificate(Base):
    """The built-in CA: its certificate (and chain above it, for an imported intermediate);
    the private key is the ``server_keys`` row with the same kid, sealed with the master key.
    The newest row without ``retired_at`` is the active CA. The CRL is kept here so that every
    node serves the same one and CRL numbers only grow."""

    __tablename__ = "ca_certificates"

    kid: Mapped[str] = mapped_column(
        ForeignKey("server_keys.kid", ondelete="RESTRICT"), primary_key=True
    )
    certificate_pem: Mapped[str] = mapped_column(Text)
    chain_pem: Mapped[str] = mapped_column(Text, default="")
    key_type: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
    # Bumped in the unit of work of every revocation; a CRL built for an older value is stale.
    revocations: Mapped[int] = mapped_column(Integer, default=0)
    crl_number: Mapped[int] = mapped_column(BigInteger, default=0)
    crl_revocations: Mapped[int] = mapped_column(Integer, default=-1)
    crl_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    crl_this_update: Mapped[datetime | None]
    crl_next_update: Mapped[datetime | None]


class CertificateRequest(Base):
    """A partner's CSR and the scope it asks for, waiting for a CA operator's decision."""

    __tablename__ = "certificate_requests"
    __table_args__ = (Index("ix_certificate_requests_status_created_at", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    csr_pem: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(2048))
    key_type: Mapped[str] = mapped_column(String(16))
    apps: Mapped[list[str]] = mapped_column(JSON, default=list)
    methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(255))
    certificate_serial: Mapped[str | None] = mapped_column(String(40))


class Certificate(Base):
    """A client certificate the CA issued. ``serial`` is lower-case hex; ``thumbprint`` is
    RFC 8705 x5t#S256. Revocation is final (``status`` revoked, with an RFC 5280 reason)."""

    __tablename__ = "certificates"
    __table_args__ = (Index("ix_certificates_org_id_status", "org_id", "status"),)

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    # No foreign key on purpose: deleting an organization must not delete the record of a
    # revoked certificate, or it would drop out of the CRL that TLS proxies check.
    org_id: Mapped[str] = mapped_column(String(36))
    request_id: Mapped[str | None] = mapped_column(
        ForeignKey("certificate_requests.id", ondelete="SET NULL")
    )
    ca_kid: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(2048))
    apps: Mapped[list[str]] = mapped_column(JSON, default=list)
    methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    thumbprint: Mapped[str] = mapped_column(String(64), unique=True)
    pem: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
