"""Certificate requests: a partner's CSR and scope, and a CA operator's decision, which
issues the certificate. :class:`~propusk.services.certificates.Certificates` builds on this.

Who may do what:
- submit: the org's owners and admins; read: every member; server admins too, for any org
  (they run the CA). Strangers get "not found".
- approve or reject: a server admin, or an owner of the org when a server admin has turned
  on self-service for that org (``cert_self_service``).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.config import Settings
from propusk.core.catalog import MethodCatalog
from propusk.core.csr import ValidCsr, format_subject, parse_csr_pem
from propusk.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from propusk.core.pki import issue_client_certificate, serial_hex, thumbprint
from propusk.core.principals import Principal
from propusk.services.audit import Actor, Origin
from propusk.services.base import checked_limit, page
from propusk.services.ca import CertificateAuthority
from propusk.services.credentials import OrgScoped
from propusk.services.orgs import Action
from propusk.services.scopes import KeyScope, resolve_scope
from propusk.services.views import view_of
from propusk.storage.models import Certificate, CertificateRequest, Organization

__all__ = [
    "CertificateRequests",
    "CertificateView",
    "RequestView",
    "certificate_view",
    "checked_limit",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
REQUEST_NOT_FOUND = "No such certificate request"


@dataclass(frozen=True)
class RequestView:
    id: str
    org_id: str
    subject: str
    key_type: str
    apps: tuple[str, ...]
    methods: tuple[str, ...]
    status: str
    requested_by: str | None
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    certificate_serial: str | None
    csr_pem: str


@dataclass(frozen=True)
class CertificateView:
    serial: str
    org_id: str
    request_id: str | None
    subject: str
    apps: tuple[str, ...]
    methods: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    status: str  # active, revoked or expired (active past not_after)
    revoked_at: datetime | None
    revocation_reason: str | None
    thumbprint: str
    pem: str
    ca_kid: str


def _request_view(row: CertificateRequest) -> RequestView:
    return view_of(RequestView, row)


def certificate_view(row: Certificate, now: datetime) -> CertificateView:
    """What a certificate is as of ``now``: active past its notAfter shows as expired."""
    status = row.status
    if status == "active" and row.not_after <= now:
        status = "expired"
    return view_of(CertificateView, row, status=status)


def _new_serial() -> int:
    # From the CSPRNG: 158 random bits under a fixed top bit (RFC 5280: positive, <= 20
    # octets; CA/B Forum: >= 64 random bits), so every serial is 40 hex digits long.
    return secrets.randbits(158) | (1 << 158)


@dataclass(eq=False, repr=False)
class CertificateRequests(OrgScoped):
    """Certificate requests and the CA operators' decisions on them."""

    catalog: MethodCatalog
    ca: CertificateAuthority
    settings: Settings

    # -- access ----------------------------------------------------------------------------

    async def _member(
        self, session: AsyncSession, actor: Principal, org_id: str, action: Action
    ) -> None:
        """Server admins may act on any existing org; everyone else per the org's rules."""
        if actor.has_role("admin"):
            if await session.get(Organization, org_id) is None:
                raise NotFound("No such organization")
            return
        await self.orgs.require(session, org_id, actor.subject, action)

    async def _operator(self, session: AsyncSession, actor: Principal, org_id: str) -> None:
        """A CA operator for this org: a server admin, or an owner when self-service is on."""
        if actor.has_role("admin"):
            return
        role = await self.orgs.role_of(session, org_id, actor.subject)
        if role is None:
            raise NotFound(REQUEST_NOT_FOUND)
        org = await session.get(Organization, org_id)
        if role != "owner" or org is None or not org.cert_self_service:
            raise Forbidden("Only a CA operator may decide certificate requests")

    # -- requests --------------------------------------------------------------------------

    async def submit(
        self, actor: Principal, org_id: str, csr: ValidCsr, scope: KeyScope, origin: Origin
    ) -> RequestView:
        """Record a verified CSR and the scope it asks for, as a pending request."""
        async with self.db.session() as session:
            await self._member(session, actor, org_id, "manage_certificates")
            apps, methods = await resolve_scope(session, self.catalog, org_id, scope)
            row = CertificateRequest(
                id=str(uuid.uuid4()),
                org_id=org_id,
                csr_pem=csr.pem,
                subject=format_subject(csr.subject),
                key_type=csr.key_type,
                apps=apps,
                methods=methods,
                status="pending",
                requested_by=actor.subject,
                created_at=self.clock.now(),
            )
            session.add(row)
            data = {
                "subject": row.subject,
                "algorithm": csr.key_type,
                "apps": apps,
                "methods": methods,
            }
            by, target = Actor(actor.subject, origin, org_id), ("certificate_request", row.id)
            self.audit.change(session, "certificate_request.created", by, target, data)
            return _request_view(row)

    async def list_requests(
        self,
        actor: Principal,
        org_id: str | None,
        *,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RequestView]:
        """One org's requests (members), or every org's (``org_id`` None: server admins)."""
        if status is not None and status not in ("pending", "approved", "rejected"):
            raise InvalidRequest("status must be pending, approved or rejected")
        query = select(CertificateRequest)
        async with self.db.read() as session:
            if org_id is None:
                if not actor.has_role("admin"):
                    raise Forbidden("This requires the admin role")
            else:
                await self._member(session, actor, org_id, "read")
                query = query.where(CertificateRequest.org_id == org_id)
            if status is not None:
                query = query.where(CertificateRequest.status == status)
            query = query.order_by(CertificateRequest.created_at.desc(), CertificateRequest.id)
            rows = await session.scalars(page(query, limit, offset))
            return [_request_view(r) for r in rows]

    async def _request(
        self, session: AsyncSession, actor: Principal, request_id: str
    ) -> CertificateRequest:
        row = await session.get(CertificateRequest, request_id)
        if row is None:
            raise NotFound(REQUEST_NOT_FOUND)
        if not actor.has_role("admin") and (
            await self.orgs.role_of(session, row.org_id, actor.subject) is None
        ):
            raise NotFound(REQUEST_NOT_FOUND)  # strangers learn nothing
        return row

    async def _pending(
        self, session: AsyncSession, actor: Principal, request_id: str
    ) -> CertificateRequest:
        """A request the actor may decide, still undecided (a decided one: Conflict)."""
        row = await self._request(session, actor, request_id)
        await self._operator(session, actor, row.org_id)
        if row.status != "pending":
            raise Conflict(f"the request is already {row.status}")
        return row

    async def get_request(self, actor: Principal, request_id: str) -> RequestView:
        async with self.db.read() as session:
            return _request_view(await self._request(session, actor, request_id))

    async def approve(
        self,
        actor: Principal,
        request_id: str,
        origin: Origin,
        *,
        subject: x509.Name | None = None,
        days: int | None = None,
    ) -> CertificateView:
        """Issue the certificate for a pending request (the CA may override its subject
        and validity). The request is decided once: a second decision is a conflict."""
        validity = days or self.settings.certificate_validity_days
        if not 1 <= validity <= 3650:
            raise InvalidRequest("days must be 1 to 3650")
        async with self.db.read() as session:
            row = await self._pending(session, actor, request_id)
        kid, ca = await self.ca.material()  # outside any unit of work (keyring rule)
        csr = parse_csr_pem(row.csr_pem)
        now = self.clock.now()
        serial = _new_serial()
        cert = issue_client_certificate(
            ca,
            csr,
            serial=serial,
            now=now,
            days=validity,
            org_id=row.org_id,
            request_id=row.id,
            subject=subject,
        )
        async with self.db.session() as session:
            # The scope is checked again: an app may have been deleted since the request.
            apps, methods = await resolve_scope(
                session, self.catalog, row.org_id, KeyScope(row.apps, False, row.methods)
            )
            decided = await session.execute(
                update(CertificateRequest)
                .where(CertificateRequest.id == row.id, CertificateRequest.status == "pending")
                .values(
                    status="approved",
                    decided_by=actor.subject,
                    decided_at=now,
                    certificate_serial=serial_hex(serial),
                )
            )
            if getattr(decided, "rowcount", 1) != 1:
                raise Conflict("the request was decided meanwhile")
            record = Certificate(
                serial=serial_hex(serial),
                org_id=row.org_id,
                request_id=row.id,
                ca_kid=kid,
                subject=format_subject(cert.subject),
                apps=apps,
                methods=methods,
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                status="active",
                thumbprint=thumbprint(cert),
                pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                issued_by=actor.subject,
                created_at=now,
            )
            session.add(record)
            by = Actor(actor.subject, origin, row.org_id)
            target = ("certificate_request", row.id)
            data = {"serial": record.serial}
            self.audit.change(session, "certificate_request.approved", by, target, data)
            issued = {
                "subject": record.subject,
                "not_after": record.not_after.isoformat(),
                "apps": apps,
                "methods": methods,
                "request": row.id,
                "subject_overridden": subject is not None,
            }
            target = ("certificate", record.serial)
            self.audit.change(session, "certificate.issued", by, target, issued)
            return certificate_view(record, now)

    async def reject(
        self, actor: Principal, request_id: str, reason: str, origin: Origin
    ) -> RequestView:
        clean = reason.strip()
        if not 1 <= len(clean) <= 255:
            raise InvalidRequest("reason must be 1 to 255 characters")
        if _CONTROL.search(clean):
            # Shown to the partner, written to logs and stored: no line breaks to forge log
            # lines with, and no NUL, which PostgreSQL refuses in text (a 500, not a 400).
            raise InvalidRequest("reason must not contain control characters")
        async with self.db.session() as session:
            row = await self._pending(session, actor, request_id)
            row.status, row.reason = "rejected", clean
            row.decided_by, row.decided_at = actor.subject, self.clock.now()
            data = {"reason": clean}
            by, target = Actor(actor.subject, origin, row.org_id), ("certificate_request", row.id)
            self.audit.change(session, "certificate_request.rejected", by, target, data)
            return _request_view(row)

    async def set_self_service(
        self, actor: Principal, org_id: str, enabled: bool, origin: Origin
    ) -> None:
        """Let (or stop letting) an org's owners approve its own requests: admins only."""
        if not actor.has_role("admin"):
            raise Forbidden("This requires the admin role")
        async with self.db.session() as session:
            org = await session.get(Organization, org_id)
            if org is None:
                raise NotFound("No such organization")
            if org.cert_self_service != enabled:
                org.cert_self_service = enabled
                by = Actor(actor.subject, origin, org_id)
                self.audit.change(
                    session, "org.cert_self_service", by, ("org", org_id), {"enabled": enabled}
                )
