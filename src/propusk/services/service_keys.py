"""Service keys (spec §1): RSA pairs an organization's owner creates, scoped to apps and
methods. The server makes the pair and hands out the private half once; it stores only the
public key. Exchanging a key for a token is in :mod:`propusk.services.exchange`.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.core.catalog import MethodCatalog
from propusk.core.errors import InvalidRequest, NotFound
from propusk.core.identifiers import check_name
from propusk.core.keys import private_key_der, public_key_der
from propusk.core.rsa_keys import load_rsa_public_pem
from propusk.services.audit import Audit, Origin
from propusk.services.clock import Clock
from propusk.services.orgs import Orgs
from propusk.services.scopes import KeyScope, resolve_scope
from propusk.storage.db import Database
from propusk.storage.models import ServiceKey

__all__ = ["KeyScope", "NewKey", "ServiceKeyView", "ServiceKeys"]

MAX_GRACE_SECONDS = 7 * 86400
NOT_FOUND = "No such service key"


@dataclass(frozen=True)
class ServiceKeyView:
    key_id: str
    org_id: str
    name: str
    apps: tuple[str, ...]
    methods: tuple[str, ...]
    status: str
    generated: bool
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None
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


def _view(row: ServiceKey) -> ServiceKeyView:
    public = serialization.load_der_public_key(row.public_der)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return ServiceKeyView(
        key_id=row.key_id,
        org_id=row.org_id,
        name=row.name,
        apps=tuple(row.apps),
        methods=tuple(row.methods),
        status=row.status,
        generated=row.generated,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_used_at=row.last_used_at,
        public_key_pem=pem,
    )


async def _new_pair(public_key_pem: str | None) -> tuple[rsa.RSAPublicKey, bytes | None]:
    if public_key_pem is not None:
        return load_rsa_public_pem(public_key_pem), None
    private = await asyncio.to_thread(rsa.generate_private_key, 65537, 2048)
    return private.public_key(), private_key_der(private)


class ServiceKeys:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        audit: Audit,
        orgs: Orgs,
        catalog: MethodCatalog,
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._orgs = orgs
        self._catalog = catalog
        # Called with a key id whenever a key changes in a way that affects its tokens
        # (the exchange service drops its cached state so this node notices at once).
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _changed(self, key_id: str) -> None:
        for listener in self._listeners:
            listener(key_id)

    async def _scope(
        self, session: AsyncSession, org_id: str, scope: KeyScope
    ) -> tuple[list[str], list[str]]:
        return await resolve_scope(session, self._catalog, org_id, scope)

    async def _row(self, session: AsyncSession, org_id: str, key_id: str) -> ServiceKey:
        row = await session.get(ServiceKey, key_id)
        if row is None or row.org_id != org_id:
            raise NotFound(NOT_FOUND)
        return row

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
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_keys")
            await self._scope(session, org_id, scope)  # validate before the slow keygen
        public, private_der = await _new_pair(public_key_pem)
        now = self._clock.now()
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_keys")
            apps, methods = await self._scope(session, org_id, scope)
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
            self._audit.add(
                session,
                "service_key.created",
                actor_id=actor,
                origin=origin,
                org_id=org_id,
                target_type="service_key",
                target_id=row.key_id,
                data={
                    "name": clean,
                    "apps": apps,
                    "methods": methods,
                    "generated": private_der is not None,
                },
            )
            return NewKey(_view(row), private_der)

    async def list(self, actor: str, org_id: str) -> list[ServiceKeyView]:
        async with self._db.read() as session:
            await self._orgs.require(session, org_id, actor, "read")
            rows = await session.scalars(
                select(ServiceKey)
                .where(ServiceKey.org_id == org_id)
                .order_by(ServiceKey.created_at, ServiceKey.key_id)
            )
            return [_view(r) for r in rows]

    async def get(self, actor: str, org_id: str, key_id: str) -> ServiceKeyView:
        async with self._db.read() as session:
            await self._orgs.require(session, org_id, actor, "read")
            return _view(await self._row(session, org_id, key_id))

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
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_keys")
            row = await self._row(session, org_id, key_id)
            changes: dict[str, object] = {}
            if name is not None and check_name(name) != row.name:
                row.name = changes["name"] = check_name(name)
            rescoped = False
            if scope is not None:
                apps, methods = await self._scope(session, org_id, scope)
                if (apps, methods) != (list(row.apps), list(row.methods)):
                    row.apps, row.methods = apps, methods
                    changes.update(apps=apps, methods=methods)
                    # Tokens carry their scope; a new generation makes the old ones fail,
                    # so a narrowed scope takes effect within key_state_ttl, not in 900 s.
                    row.generation += 1
                    rescoped = True
            if not changes:
                return _view(row)  # nothing asked for: no write, no audit event
            row.updated_at = self._clock.now()
            self._audit.add(
                session,
                "service_key.updated",
                actor_id=actor,
                origin=origin,
                org_id=org_id,
                target_type="service_key",
                target_id=key_id,
                data=changes,
            )
            view = _view(row)
        if rescoped:
            self._changed(key_id)
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
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise InvalidRequest(f"graceSeconds must be 0 to {MAX_GRACE_SECONDS}")
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_keys")
            await self._row(session, org_id, key_id)
        public, private_der = await _new_pair(public_key_pem)
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_keys")
            row = await self._row(session, org_id, key_id)
            now = self._clock.now()
            if grace_seconds:
                row.previous_public_der = row.public_der
                row.previous_valid_until = now + timedelta(seconds=grace_seconds)
            else:
                row.previous_public_der, row.previous_valid_until = None, None
            row.public_der = public_key_der(public)
            row.generated = private_der is not None
            row.generation += 1
            row.rotated_at = row.updated_at = now
            self._audit.add(
                session,
                "service_key.rotated",
                actor_id=actor,
                origin=origin,
                org_id=org_id,
                target_type="service_key",
                target_id=key_id,
                data={"grace_seconds": grace_seconds, "generated": private_der is not None},
            )
            result = NewKey(_view(row), private_der)
        self._changed(key_id)
        return result

    async def set_status(
        self, actor: str, org_id: str, key_id: str, status: str, origin: Origin
    ) -> ServiceKeyView:
        assert status in ("active", "disabled")
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_keys")
            row = await self._row(session, org_id, key_id)
            if row.status != status:
                row.status = status
                row.generation += 1
                row.updated_at = self._clock.now()
                kind = "service_key.enabled" if status == "active" else "service_key.disabled"
                self._audit.add(
                    session,
                    kind,
                    actor_id=actor,
                    origin=origin,
                    org_id=org_id,
                    target_type="service_key",
                    target_id=key_id,
                )
            view = _view(row)
        self._changed(key_id)
        return view

    async def delete(self, actor: str, org_id: str, key_id: str, origin: Origin) -> None:
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_keys")
            row = await self._row(session, org_id, key_id)
            await session.delete(row)
            self._audit.add(
                session,
                "service_key.deleted",
                actor_id=actor,
                origin=origin,
                org_id=org_id,
                target_type="service_key",
                target_id=key_id,
                data={"name": row.name},
            )
        self._changed(key_id)
