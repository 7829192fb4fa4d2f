"""Client certificates: listing, download, revocation, and turning a presented certificate
into a Principal (the requests and their approval are in
:mod:`propusk.services.certificate_requests`).

Revocation on the request path (:meth:`Certificates.principal_for`) costs one dictionary
lookup: each node caches a certificate's state (a primary-key read) for ``key_state_ttl``
seconds, and forgets it at once when it revokes the certificate itself. So a revocation made
on another node is seen within ``key_state_ttl``, and the cost does not depend on how many
certificates are revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from sqlalchemy import select, update

from propusk.core.errors import Conflict, InvalidRequest, InvalidToken, NotFound
from propusk.core.pki import (
    REASONS,
    CertificateRefused,
    check_client_certificate,
    serial_hex,
    thumbprint,
)
from propusk.core.principals import Principal
from propusk.services.audit import Actor, Origin
from propusk.services.base import load_owned, page
from propusk.services.certificate_requests import (
    CertificateRequests,
    CertificateView,
    RequestView,
    certificate_view,
)
from propusk.services.node_cache import MAX_ENTRIES, NodeCache
from propusk.storage.models import CaCertificate, Certificate, Organization

__all__ = ["CertificateView", "Certificates", "RequestView"]

MAX_STATE_ENTRIES = MAX_ENTRIES
CERT_NOT_FOUND = "No such certificate"
STATUSES = ("active", "revoked", "expired")


@dataclass(frozen=True)
class _State:
    org_id: str
    active: bool
    thumbprint: str
    apps: frozenset[str]
    methods: frozenset[str]


@dataclass(eq=False, repr=False)
class Certificates(CertificateRequests):
    """Requests and decisions (inherited), certificates, and the request-path check."""

    def __post_init__(self) -> None:
        self._states: NodeCache[str, _State | None] = NodeCache(
            self.settings.key_state_ttl, evict=MAX_STATE_ENTRIES // 2
        )
        self.changes.on("certificate", self._states.forget, self._states.clear)
        # Thumbprint -> kid of the CA whose signature on it already verified (one signature
        # check per certificate and CA per process, not per request; a replaced CA makes
        # them check again). The time checks run every time.
        self._verified: dict[str, str] = {}

    # -- certificates ----------------------------------------------------------------------

    async def list(
        self,
        actor: Principal,
        org_id: str,
        *,
        status: str | None = None,
        expires_before: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[CertificateView]:
        """An org's certificates, newest first, filtered by status and expiry."""
        if status is not None and status not in STATUSES:
            raise InvalidRequest("status must be active, revoked or expired")
        now = self.clock.now()
        query = select(Certificate).where(Certificate.org_id == org_id)
        if status == "revoked":
            query = query.where(Certificate.status == "revoked")
        elif status == "active":
            query = query.where(Certificate.status == "active", Certificate.not_after > now)
        elif status == "expired":
            query = query.where(Certificate.status == "active", Certificate.not_after <= now)
        if expires_before is not None:
            query = query.where(Certificate.not_after < expires_before)
        query = query.order_by(Certificate.created_at.desc(), Certificate.serial)
        async with self.db.read() as session:
            await self._member(session, actor, org_id, "read")
            rows = await session.scalars(page(query, limit, offset))
            return [certificate_view(r, now) for r in rows]

    async def get(self, actor: Principal, org_id: str, serial: str) -> CertificateView:
        async with self.db.read() as session:
            await self._member(session, actor, org_id, "read")
            row = await load_owned(session, Certificate, serial.lower(), org_id, CERT_NOT_FOUND)
            return certificate_view(row, self.clock.now())

    async def chain_pem(self, view: CertificateView) -> str:
        """The CA chain a certificate chains to (PEM, CA first)."""
        return await self.ca.chain_for(view.ca_kid)

    async def revoke(
        self, actor: Principal, org_id: str, serial: str, reason: str, origin: Origin
    ) -> CertificateView:
        """Revoke for good with an RFC 5280 reason; the CRL is rebuilt on its next fetch."""
        if reason not in REASONS:
            raise InvalidRequest(f"reason must be one of: {', '.join(REASONS)}")
        now = self.clock.now()
        async with self.db.session() as session:
            await self._member(session, actor, org_id, "manage_certificates")
            row = await load_owned(session, Certificate, serial.lower(), org_id, CERT_NOT_FOUND)
            if row.status == "revoked":
                raise Conflict("the certificate is already revoked")
            row.status, row.revoked_at, row.revocation_reason = "revoked", now, reason
            # Every node sees a new count on the CA row and rebuilds its CRL.
            await session.execute(
                update(CaCertificate)
                .where(CaCertificate.kid == row.ca_kid)
                .values(revocations=CaCertificate.revocations + 1)
            )
            by = Actor(actor.subject, origin, org_id)
            self.audit.change(
                session, "certificate.revoked", by, ("certificate", row.serial), {"reason": reason}
            )
            view = certificate_view(row, now)
        self.invalidate(view.serial)
        self.ca.changed()
        return view

    # -- the request path ------------------------------------------------------------------

    async def principal_for(self, cert: x509.Certificate) -> Principal:
        """The Principal of a presented client certificate, or InvalidToken (opaque 401;
        the reason goes to the log detail): issued by the Propusk CA, valid now, EKU
        clientAuth, not revoked, its record active and its org still there."""
        try:
            kid, ca = await self.ca.material(request_path=True)
        except NotFound:
            raise InvalidToken(detail="no CA is set up") from None
        now = self.clock.now()
        tp = thumbprint(cert)
        serial = serial_hex(cert.serial_number)
        try:
            if self._verified.get(tp) == kid:
                if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
                    raise CertificateRefused("outside its validity period")
            else:
                check_client_certificate(ca.certificate, cert, now=now)
                if len(self._verified) >= MAX_STATE_ENTRIES:
                    self._verified.clear()
                self._verified[tp] = kid
        except CertificateRefused as exc:
            raise InvalidToken(detail=f"client certificate: {exc}") from None
        state = await self._state(serial)
        if state is None or state.thumbprint != tp:
            raise InvalidToken(detail="client certificate: no record of it")
        if not state.active:
            raise InvalidToken(detail="client certificate: revoked")
        return Principal(
            subject=serial,
            method="mtls",
            kind="certificate",
            org_id=state.org_id,
            apps=state.apps,
            methods=state.methods,
            cert_thumbprint=tp,
        )

    async def _state(self, serial: str) -> _State | None:
        return await self._states.get_or_load(serial, self._read_state)

    async def _read_state(self, serial: str) -> _State | None:
        async with self.db.read() as session:
            row = await session.get(Certificate, serial)
            org = await session.get(Organization, row.org_id) if row is not None else None
        if row is None:
            return None  # cached too: a made-up serial needs a certificate signed by our CA
        return _State(
            org_id=row.org_id,
            active=row.status == "active" and org is not None,
            thumbprint=row.thumbprint,
            apps=frozenset(row.apps),
            methods=frozenset(row.methods),
        )

    def invalidate(self, serial: str) -> None:
        """A certificate changed: every process forgets its cached state."""
        self.changes.changed("certificate", serial)
