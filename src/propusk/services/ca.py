"""The built-in certificate authority: made (``propusk ca init``) or imported (``propusk ca
import``), its key sealed in the server keyring, and the CRL it signs.

Several nodes (and the CLI, a separate process) share one database: each node re-reads the
active CA row when its copy is older than ``key_state_ttl``, so a new CA or a revocation made
elsewhere is seen within that bound. The CRL is stored on the CA row with a CRL number that
only grows; a node rebuilds it when a revocation happened since it was built, when it is
older than ``crl_refresh``, or when its nextUpdate has passed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from sqlalchemy import select, update

from propusk.config import Settings
from propusk.core import sealing
from propusk.core.csr import format_subject, parse_subject
from propusk.core.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from propusk.core.pki import CaKey, CaMaterial, RevokedEntry, build_crl, create_ca, load_ca
from propusk.services.audit import Origin
from propusk.services.base import UseCase
from propusk.services.keyring import Keyring
from propusk.storage.models import CaCertificate, Certificate, ServerKey

__all__ = ["CA_PURPOSE", "CaView", "CertificateAuthority", "key_type_of"]

CA_PURPOSE = "ca"
log = logging.getLogger("propusk.ca")
NO_CA = "No certificate authority is set up: run `propusk ca init` or `propusk ca import`"


@dataclass(frozen=True)
class CaView:
    kid: str
    subject: str
    key_type: str
    source: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER, hex, as `openssl x509 -fingerprint -sha256` shows
    chain_length: int  # certificates above the CA (0 for a self-signed one)
    certificate_pem: str


@dataclass(frozen=True)
class _State:
    row: CaCertificate | None
    material: CaMaterial | None


def key_type_of(key: CaKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    """``EC-P-256``, ``RSA-3072``, ``Ed25519``: how keys are named in views and the DB."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return {"secp256r1": "EC-P-256", "secp384r1": "EC-P-384"}.get(key.curve.name, "EC")
    return "Ed25519"


def _view(row: CaCertificate) -> CaView:
    cert = x509.load_pem_x509_certificate(row.certificate_pem.encode("ascii"))
    der = cert.public_bytes(serialization.Encoding.DER)
    return CaView(
        kid=row.kid,
        subject=format_subject(cert.subject),
        key_type=row.key_type,
        source=row.source,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=hashlib.sha256(der).hexdigest(),
        chain_length=row.chain_pem.count("-----BEGIN CERTIFICATE-----"),
        certificate_pem=row.certificate_pem + row.chain_pem,
    )


@dataclass(eq=False, repr=False)
class CertificateAuthority(UseCase):
    """The active CA (made or imported), its cached key material, and its CRL."""

    keyring: Keyring
    settings: Settings

    def __post_init__(self) -> None:
        self._state: _State | None = None
        self._state_at = 0.0
        self._materials: dict[str, CaMaterial] = {}  # kid -> unsealed key, parsed once
        self._lock = asyncio.Lock()
        self._crl_lock = asyncio.Lock()

    # -- creating and importing ----------------------------------------------------------

    async def init(
        self,
        origin: Origin,
        *,
        key_type: str | None = None,
        days: int | None = None,
        subject: str | None = None,
        replace: bool = False,
    ) -> CaView:
        """Make a self-signed CA (ECDSA P-256 or RSA-3072) and make it the active one."""
        kind = key_type or self.settings.ca_key_type
        if kind not in ("ec", "rsa"):
            raise InvalidRequest("the key type must be ec or rsa")
        validity = days or self.settings.ca_validity_days
        if not 1 <= validity <= 36500:
            raise InvalidRequest("the CA validity must be 1 to 36500 days")
        name = parse_subject(subject or self.settings.ca_subject)
        await self._refuse_if_active(replace)
        key: CaKey
        if kind == "ec":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            key = await asyncio.to_thread(rsa.generate_private_key, 65537, 3072)
        material = create_ca(key, name, serial=_serial(), now=self.clock.now(), days=validity)
        return await self._store(material, "generated", origin, replace)

    async def import_(
        self,
        certificate_pem: bytes,
        key_pem: bytes,
        origin: Origin,
        *,
        password: bytes | None = None,
        replace: bool = False,
    ) -> CaView:
        """Use an existing CA (typically an intermediate under the provider's own root)."""
        material = load_ca(certificate_pem, key_pem, now=self.clock.now(), password=password)
        await self._refuse_if_active(replace)
        return await self._store(material, "imported", origin, replace)

    async def _refuse_if_active(self, replace: bool) -> None:
        if not replace and await self._active_row() is not None:
            raise Conflict(
                "a CA is already set up; replacing it (--replace) makes every certificate"
                " it issued stop working"
            )

    async def _store(
        self, material: CaMaterial, source: str, origin: Origin, replace: bool
    ) -> CaView:
        kid = f"ca-{secrets.token_hex(8)}"
        key = material.private_key
        sealed = self.keyring.seal(kid, _pkcs8(key), secrets.token_bytes(sealing.NONCE_BYTES))
        pem = material.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        chain = material.chain_pem[len(pem) :]
        now = self.clock.now()
        async with self.db.session() as session:
            if replace:
                await session.execute(
                    update(CaCertificate)
                    .where(CaCertificate.retired_at.is_(None))
                    .values(retired_at=now)
                )
            session.add(
                ServerKey(
                    kid=kid,
                    purpose=CA_PURPOSE,
                    algorithm=key_type_of(key),
                    public_der=key.public_key().public_bytes(
                        serialization.Encoding.DER,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    ),
                    sealed_private=sealed,
                    created_at=now,
                )
            )
            await session.flush()
            row = CaCertificate(
                kid=kid,
                certificate_pem=pem,
                chain_pem=chain,
                key_type=key_type_of(key),
                source=source,
                created_at=now,
                revocations=0,
                crl_number=0,
                crl_revocations=-1,
            )
            session.add(row)
            self.audit.add(
                session,
                "ca.created" if source == "generated" else "ca.imported",
                actor_type="system",
                origin=origin,
                target_type="ca",
                target_id=kid,
                data={
                    "subject": format_subject(material.certificate.subject),
                    "algorithm": key_type_of(key),
                    "replaced": replace,
                },
            )
            view = _view(row)
        self.changed()
        return view

    # -- reading -------------------------------------------------------------------------

    async def _active_row(self) -> CaCertificate | None:
        async with self.db.read() as session:
            return await session.scalar(
                select(CaCertificate)
                .where(CaCertificate.retired_at.is_(None))
                .order_by(CaCertificate.created_at.desc())
                .limit(1)
            )

    def _cached(self, recheck_missing: bool) -> _State | None:
        state = self._state
        if state is None or time.monotonic() - self._state_at >= self._ttl:
            return None
        if recheck_missing and state.row is None:
            return None  # `propusk ca init` may have just made one: look again
        return state

    async def _current(self, *, recheck_missing: bool = True) -> _State:
        """The active CA, re-read every ``key_state_ttl``. "No CA" is re-checked at once
        except on the request path (``recheck_missing`` False), where anyone can ask."""
        cached = self._cached(recheck_missing)
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._cached(recheck_missing)
            if cached is not None:
                return cached
            row = await self._active_row()
            material = None
            if row is not None:
                material = self._materials.get(row.kid) or await self._material_for(row)
                self._materials[row.kid] = material
            self._state = _State(row, material)
            self._state_at = time.monotonic()
            return self._state

    @property
    def _ttl(self) -> float:
        return self.settings.key_state_ttl

    async def _material_for(self, row: CaCertificate) -> CaMaterial:
        async with self.db.read() as session:
            key_row = await session.get(ServerKey, row.kid)
        if key_row is None:
            raise NotFound(NO_CA, detail=f"server key {row.kid} is missing")
        key = serialization.load_der_private_key(
            self.keyring.unseal(row.kid, key_row.sealed_private), password=None
        )
        assert isinstance(
            key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        )
        chain = (
            tuple(x509.load_pem_x509_certificates(row.chain_pem.encode())) if row.chain_pem else ()
        )
        return CaMaterial(x509.load_pem_x509_certificate(row.certificate_pem.encode()), key, chain)

    def changed(self) -> None:
        """Forget the cached CA state (this node changed the CA or revoked a certificate)."""
        self._state = None

    async def material(self, *, request_path: bool = False) -> tuple[str, CaMaterial]:
        """The active CA's kid and material; NotFound when there is none. On the request
        path (``request_path``) a missing CA is only looked for every ``key_state_ttl``."""
        state = await self._current(recheck_missing=not request_path)
        if state.row is None or state.material is None:
            raise NotFound(NO_CA)
        return state.row.kid, state.material

    async def show(self) -> CaView:
        state = await self._current()
        if state.row is None:
            raise NotFound(NO_CA)
        return _view(state.row)

    async def certificate_pem(self) -> str:
        """The CA certificate followed by its chain (PEM); NotFound if there is no CA."""
        return (await self.show()).certificate_pem

    async def chain_for(self, kid: str) -> str:
        """The PEM chain of the CA ``kid`` (maybe retired): what a certificate it issued
        chains to."""
        async with self.db.read() as session:
            row = await session.get(CaCertificate, kid)
        if row is None:
            raise NotFound(NO_CA)
        return row.certificate_pem + row.chain_pem

    # -- the CRL -------------------------------------------------------------------------

    def _fresh(self, row: CaCertificate, now: datetime) -> bool:
        refresh = min(self.settings.crl_refresh, self.settings.crl_validity // 2)
        return (
            row.crl_der is not None
            and row.crl_revocations == row.revocations
            and row.crl_this_update is not None
            and row.crl_next_update is not None
            and now < row.crl_this_update + timedelta(seconds=refresh)
            and now < row.crl_next_update
        )

    async def crl_der(self) -> bytes:
        """The current CRL (DER), rebuilt when stale; NotFound if there is no CA."""
        state = await self._current()
        if state.row is None:
            raise NotFound(NO_CA)
        now = self.clock.now()
        if self._fresh(state.row, now):
            assert state.row.crl_der is not None
            return state.row.crl_der
        async with self._crl_lock:  # one rebuild per node, not one per waiting request
            self.changed()
            state = await self._current()
            if state.row is None or state.material is None:
                raise NotFound(NO_CA)
            if self._fresh(state.row, now):
                assert state.row.crl_der is not None
                return state.row.crl_der
            der = await self._rebuild(state.row, state.material, now)
            self.changed()
            return der

    async def keep_crl_fresh(self, interval: float = 30.0) -> None:
        """Rebuild the stored CRL in the background whenever it is stale (a revocation on
        any node, older than ``crl_refresh``, or near ``nextUpdate``), so that fetching it
        does not pay for signing. Runs until cancelled; the server starts it."""
        while True:
            try:
                await self.crl_der()
            except NotFound:
                pass  # no CA yet
            except ServiceUnavailable:
                pass  # the database is down: logged once by storage; retried next round
            except Exception:  # a failed rebuild must not stop the next ones
                log.exception("the CRL could not be rebuilt")
            await asyncio.sleep(interval)

    async def _rebuild(self, row: CaCertificate, material: CaMaterial, now: datetime) -> bytes:
        async with self.db.read() as session:
            result = await session.execute(
                select(Certificate.serial, Certificate.revoked_at, Certificate.revocation_reason)
                .where(
                    Certificate.ca_kid == row.kid,
                    Certificate.status == "revoked",
                    Certificate.not_after > now,  # expired entries may leave the CRL
                )
                .order_by(Certificate.revoked_at)
            )
            entries = [
                RevokedEntry(int(serial, 16), revoked_at or now, reason or "unspecified")
                for serial, revoked_at, reason in result
            ]
        number = row.crl_number + 1
        next_update = now + timedelta(seconds=self.settings.crl_validity)
        crl = await asyncio.to_thread(
            build_crl, material, entries, now=now, next_update=next_update, number=number
        )
        der = crl.public_bytes(serialization.Encoding.DER)
        async with self.db.session() as session:
            # Only if no other node stored a newer CRL meanwhile: CRL numbers only grow.
            done = await session.execute(
                update(CaCertificate)
                .where(CaCertificate.kid == row.kid, CaCertificate.crl_number == row.crl_number)
                .values(
                    crl_number=number,
                    crl_der=der,
                    crl_revocations=row.revocations,
                    crl_this_update=now,
                    crl_next_update=next_update,
                )
            )
        if getattr(done, "rowcount", 1) == 0:
            newer = await self._active_row()
            if newer is not None and newer.crl_der is not None:
                return newer.crl_der
        return der


def _pkcs8(key: CaKey) -> bytes:
    # Unencrypted DER PKCS#8: it is sealed with the master key before it is stored.
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _serial() -> int:
    """159 bits: the top bit set so that every serial has the same length, 158 random bits."""
    return secrets.randbits(158) | (1 << 158)
