"""Service keys (spec §1): RSA pairs an organization's owner creates, scoped to apps and
methods. The server makes the pair and hands out the private half once; it stores only the
public key. Exchanging a key for a token is in :mod:`propusk.services.exchange`.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from propusk.core.catalog import MethodCatalog
from propusk.core.identifiers import check_name
from propusk.core.keys import private_key_der, public_key_der
from propusk.core.rsa_keys import load_rsa_public_pem
from propusk.services.audit import Origin
from propusk.services.credentials import (
    MAX_GRACE_SECONDS,
    CredentialKind,
    KeyView,
    Switchable,
    check_grace,
    grace_until,
)
from propusk.services.scopes import KeyScope, resolve_scope
from propusk.services.views import view_of
from propusk.storage.models import ServiceKey

__all__ = ["MAX_GRACE_SECONDS", "KeyScope", "NewKey", "ServiceKeyView", "ServiceKeys"]

NOT_FOUND = "No such service key"


@dataclass(frozen=True)
class ServiceKeyView(KeyView):
    """A service key: its public half, and whether the server made the pair."""

    generated: bool
    public_key_pem: str


@dataclass(frozen=True)
class NewKey:
    """A key as just created or rotated; ``private_der`` is present only when the server
    generated the pair, and exists only in this answer."""

    view: ServiceKeyView
    private_der: bytes | None

    @property
    def private_b64(self) -> str | None:
        """Standard Base64 of DER PKCS#8, no armour: how the original console hands it out."""
        return base64.b64encode(self.private_der).decode("ascii") if self.private_der else None

    @property
    def private_pem(self) -> str | None:
        if self.private_der is None:
            return None
        key = serialization.load_der_private_key(self.private_der, password=None)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")


def _key_view(row: ServiceKey) -> ServiceKeyView:
    public = serialization.load_der_public_key(row.public_der)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return view_of(ServiceKeyView, row, public_key_pem=pem)


async def _new_pair(public_key_pem: str | None) -> tuple[rsa.RSAPublicKey, bytes | None]:
    if public_key_pem is not None:
        return load_rsa_public_pem(public_key_pem), None
    private = await asyncio.to_thread(rsa.generate_private_key, 65537, 2048)
    return private.public_key(), private_key_der(private)


@dataclass(eq=False, repr=False)
class ServiceKeys(Switchable[ServiceKey, ServiceKeyView]):
    """Service keys of organizations; only owners manage them (spec §1)."""

    catalog: MethodCatalog

    kind = CredentialKind(ServiceKey, "service_key", "manage_keys", NOT_FOUND)

    def _forget(self, key_id: str) -> None:
        # A change that affects the key's tokens: the exchange, in every process, forgets
        # its cached state of the key.
        self.changes.changed("service-key", key_id)

    def _view(self, row: ServiceKey) -> ServiceKeyView:
        return _key_view(row)

    def _status_changed(self, row: ServiceKey, now: datetime) -> None:
        row.generation += 1  # tokens carry the generation: a disabled key's tokens fail at once

    async def create(
        self,
        actor: str,
        org_id: str,
        name: str,
        scope: KeyScope,
        origin: Origin,
        public_key_pem: str | None = None,
    ) -> NewKey:
        clean = check_name(name)
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            await resolve_scope(session, self.catalog, org_id, scope)  # before the slow keygen
        public, private_der = await _new_pair(public_key_pem)
        now = self.clock.now()
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            apps, methods = await resolve_scope(session, self.catalog, org_id, scope)
            row = ServiceKey(
                key_id=str(uuid.uuid4()),
                org_id=org_id,
                name=clean,
                public_der=public_key_der(public),
                generated=private_der is not None,
                apps=apps,
                methods=methods,
                status="active",
                generation=1,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            generated = private_der is not None
            data = {"name": clean, "apps": apps, "methods": methods, "generated": generated}
            self._event(session, "created", actor, origin, org_id, row.key_id, data)
            return NewKey(_key_view(row), private_der)

    async def update(
        self,
        actor: str,
        org_id: str,
        key_id: str,
        origin: Origin,
        *,
        name: str | None = None,
        scope: KeyScope | None = None,
    ) -> ServiceKeyView:
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            row = await self._row(session, org_id, key_id)
            changes: dict[str, object] = {}
            rescoped = await self._rename_rescope(session, row, org_id, name, scope, changes)
            if rescoped:
                # Tokens carry their scope; a new generation makes the old ones fail,
                # so a narrowed scope takes effect within key_state_ttl, not in 900 s.
                row.generation += 1
            self._updated(session, row, actor, origin, org_id, changes)
            view = _key_view(row)
        if rescoped:
            self._forget(key_id)
        return view

    async def rotate(
        self,
        actor: str,
        org_id: str,
        key_id: str,
        origin: Origin,
        *,
        grace_seconds: int = 0,
        public_key_pem: str | None = None,
    ) -> NewKey:
        """A new pair under the same key id. The old private key stops working at once, or
        after ``grace_seconds`` during which both sign exchanges. Tokens issued before the
        rotation fail at once either way (new generation)."""
        check_grace(grace_seconds)
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            await self._row(session, org_id, key_id)
        public, private_der = await _new_pair(public_key_pem)
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            row = await self._row(session, org_id, key_id)
            now = self.clock.now()
            row.previous_valid_until = until = grace_until(now, grace_seconds)
            row.previous_public_der = row.public_der if until else None
            row.public_der = public_key_der(public)
            row.generated = private_der is not None
            row.generation += 1
            row.rotated_at = row.updated_at = now
            data = {"grace_seconds": grace_seconds, "generated": private_der is not None}
            self._event(session, "rotated", actor, origin, org_id, key_id, data)
            result = NewKey(_key_view(row), private_der)
        self._forget(key_id)
        return result
