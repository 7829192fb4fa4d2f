"""Managed API keys (``X-API-Key: propusk_<keyId>_<secret>``): scoped like service keys,
stored only as HMAC-SHA256 with a pepper from the keyring, shown once.

Verification reads the key's record by id (cached per node for ``key_state_ttl`` seconds,
forgotten at once on this node when the key changes) and compares digests in constant
time. ``lastUsedAt`` is kept in memory and written in batches, never once per request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.config import Settings
from propusk.core.apikeys import (
    ParsedApiKey,
    api_key_digest,
    digest_matches,
    make_api_key,
    parse_api_key,
)
from propusk.core.catalog import MethodCatalog
from propusk.core.errors import InvalidRequest, InvalidToken, NotFound
from propusk.core.identifiers import check_name
from propusk.core.principals import Principal
from propusk.services.audit import Audit, Origin
from propusk.services.clock import Clock
from propusk.services.keyring import Keyring
from propusk.services.orgs import Orgs
from propusk.services.scopes import KeyScope, resolve_scope
from propusk.storage.db import Database
from propusk.storage.models import ApiKey

__all__ = ["ApiKeyView", "ApiKeys", "NewApiKey"]

log = logging.getLogger("propusk.api_keys")
MAX_GRACE_SECONDS = 7 * 86400
FLUSH_INTERVAL = 30.0
NOT_FOUND = "No such API key"


@dataclass(frozen=True)
class ApiKeyView:
    key_id: str
    org_id: str
    name: str
    prefix: str
    last4: str
    apps: tuple[str, ...]
    methods: tuple[str, ...]
    status: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewApiKey:
    view: ApiKeyView
    key: str  # the whole key, in this answer only


@dataclass(frozen=True)
class _Record:
    org_id: str
    digest: str
    previous_digest: str | None
    previous_valid_until: datetime | None
    apps: frozenset[str]
    methods: frozenset[str]
    status: str
    expires_at: datetime | None


def _view(row: ApiKey, last_used: datetime | None = None) -> ApiKeyView:
    return ApiKeyView(
        key_id=row.key_id,
        org_id=row.org_id,
        name=row.name,
        prefix=f"propusk_{row.key_id}",
        last4=row.last4,
        apps=tuple(row.apps),
        methods=tuple(row.methods),
        status=row.status,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_used_at=max(filter(None, (row.last_used_at, last_used)), default=None),
    )


class ApiKeys:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        audit: Audit,
        orgs: Orgs,
        keyring: Keyring,
        catalog: MethodCatalog,
        settings: Settings,
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._orgs = orgs
        self._keyring = keyring
        self._catalog = catalog
        self._settings = settings
        self._records: dict[str, tuple[_Record | None, float]] = {}
        self._used: dict[str, datetime] = {}
        self._flusher: asyncio.Task[None] | None = None

    # -- management ---------------------------------------------------------------------

    def _check_expiry(self, expires_at: datetime | None) -> None:
        if expires_at is not None and expires_at <= self._clock.now():
            raise InvalidRequest("expiresAt must be in the future")

    async def create(
        self,
        actor: str,
        org_id: str,
        name: str,
        scope: KeyScope,
        origin: Origin,
        expires_at: datetime | None = None,
    ) -> NewApiKey:
        clean = check_name(name)
        self._check_expiry(expires_at)
        pepper = await self._keyring.api_key_pepper()
        key = make_api_key(secrets.token_bytes(8), secrets.token_bytes(32))
        now = self._clock.now()
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_api_keys")
            apps, methods = await resolve_scope(session, self._catalog, org_id, scope)
            row = ApiKey(
                key_id=key.key_id,
                org_id=org_id,
                name=clean,
                digest=api_key_digest(pepper, key.secret),
                last4=key.last4,
                apps=apps,
                methods=methods,
                status="active",
                expires_at=expires_at,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            self._audit.add(
                session,
                "api_key.created",
                actor_id=actor,
                origin=origin,
                org_id=org_id,
                target_type="api_key",
                target_id=key.key_id,
                data={"name": clean, "apps": apps, "methods": methods},
            )
            return NewApiKey(_view(row), str(key))

    async def _row(self, session: AsyncSession, org_id: str, key_id: str) -> ApiKey:
        row = await session.get(ApiKey, key_id)
        if row is None or row.org_id != org_id:
            raise NotFound(NOT_FOUND)
        return row

    async def list_keys(self, actor: str, org_id: str) -> list[ApiKeyView]:
        async with self._db.read() as session:
            await self._orgs.require(session, org_id, actor, "read")
            rows = await session.scalars(
                select(ApiKey)
                .where(ApiKey.org_id == org_id)
                .order_by(ApiKey.created_at, ApiKey.key_id)
            )
            return [_view(r, self._used.get(r.key_id)) for r in rows]

    async def get(self, actor: str, org_id: str, key_id: str) -> ApiKeyView:
        async with self._db.read() as session:
            await self._orgs.require(session, org_id, actor, "read")
            row = await self._row(session, org_id, key_id)
            return _view(row, self._used.get(key_id))

    async def update(
        self,
        actor: str,
        org_id: str,
        key_id: str,
        origin: Origin,
        *,
        name: str | None = None,
        scope: KeyScope | None = None,
        expires_at: datetime | None = None,
        clear_expiry: bool = False,
    ) -> ApiKeyView:
        self._check_expiry(expires_at)
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_api_keys")
            row = await self._row(session, org_id, key_id)
            changes: dict[str, object] = {}
            if name is not None and check_name(name) != row.name:
                row.name = changes["name"] = check_name(name)
            if scope is not None:
                apps, methods = await resolve_scope(session, self._catalog, org_id, scope)
                if (apps, methods) != (list(row.apps), list(row.methods)):
                    row.apps, row.methods = apps, methods
                    changes.update(apps=apps, methods=methods)
            if expires_at is not None or clear_expiry:
                row.expires_at = expires_at
                changes["expires_at"] = expires_at.isoformat() if expires_at else None
            if changes:
                row.updated_at = self._clock.now()
                self._audit.add(
                    session,
                    "api_key.updated",
                    actor_id=actor,
                    origin=origin,
                    org_id=org_id,
                    target_type="api_key",
                    target_id=key_id,
                    data=changes,
                )
            view = _view(row, self._used.get(key_id))
        self.invalidate(key_id)
        return view

    async def reroll(
        self, actor: str, org_id: str, key_id: str, origin: Origin, *, grace_seconds: int = 0
    ) -> NewApiKey:
        """A new secret under the same key id; the old one keeps working for
        ``grace_seconds`` (so clients can be switched over), then never again."""
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise InvalidRequest(f"graceSeconds must be 0 to {MAX_GRACE_SECONDS}")
        pepper = await self._keyring.api_key_pepper()
        # Only the secret changes; the key id (validated by the lookup below) stays.
        secret = secrets.token_bytes(32).hex()
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_api_keys")
            row = await self._row(session, org_id, key_id)
            if row.status != "active":
                raise InvalidRequest("a revoked key cannot be rerolled")
            now = self._clock.now()
            if grace_seconds:
                row.previous_digest = row.digest
                row.previous_valid_until = now + timedelta(seconds=grace_seconds)
            else:
                row.previous_digest, row.previous_valid_until = None, None
            fresh = ParsedApiKey(key_id, secret)
            row.digest = api_key_digest(pepper, fresh.secret)
            row.last4 = fresh.last4
            row.updated_at = now
            self._audit.add(
                session,
                "api_key.rerolled",
                actor_id=actor,
                origin=origin,
                org_id=org_id,
                target_type="api_key",
                target_id=key_id,
                data={"grace_seconds": grace_seconds},
            )
            result = NewApiKey(_view(row, self._used.get(key_id)), str(fresh))
        self.invalidate(key_id)
        return result

    async def revoke(
        self,
        actor: str | None,
        org_id: str,
        key_id: str,
        origin: Origin,
        *,
        reason: str = "revoked",
    ) -> ApiKeyView:
        async with self._db.session() as session:
            if actor is not None:
                await self._orgs.require(session, org_id, actor, "manage_api_keys")
            row = await self._row(session, org_id, key_id)
            if row.status != "revoked":
                row.status = "revoked"
                row.revoked_at = row.updated_at = self._clock.now()
                self._audit.add(
                    session,
                    "api_key.revoked",
                    actor_type="account" if actor else "system",
                    actor_id=actor,
                    origin=origin,
                    org_id=org_id,
                    target_type="api_key",
                    target_id=key_id,
                    data={"reason": reason},
                )
            view = _view(row, self._used.get(key_id))
        self.invalidate(key_id)
        return view

    async def delete(self, actor: str, org_id: str, key_id: str, origin: Origin) -> None:
        async with self._db.session() as session:
            await self._orgs.require(session, org_id, actor, "manage_api_keys")
            row = await self._row(session, org_id, key_id)
            await session.delete(row)
            self._audit.add(
                session,
                "api_key.deleted",
                actor_id=actor,
                origin=origin,
                org_id=org_id,
                target_type="api_key",
                target_id=key_id,
                data={"name": row.name},
            )
        self.invalidate(key_id)

    async def report_leaked(self, keys: Iterable[str], origin: Origin) -> list[tuple[str, bool]]:
        """Revoke every reported string that is a valid key of ours (a secret scanner's
        report); answers (key id or "", revoked) per string, and never echoes a secret."""
        pepper = await self._keyring.api_key_pepper()
        results: list[tuple[str, bool]] = []
        for text in keys:
            parsed = parse_api_key(text)
            if parsed is None:
                results.append(("", False))
                continue
            record = await self._record(parsed.key_id)
            if record is None or not self._matches(record, pepper, parsed.secret):
                results.append(("", False))  # not ours: do not confirm that the id exists
                continue
            already = record.status == "revoked"
            await self.revoke(None, record.org_id, parsed.key_id, origin, reason="leaked")
            results.append((parsed.key_id, not already))
        return results

    # -- verification (the X-API-Key authenticator's verifier) --------------------------

    def _matches(self, record: _Record, pepper: bytes, secret: str) -> bool:
        if digest_matches(pepper, secret, record.digest):
            return True
        return bool(
            record.previous_digest
            and record.previous_valid_until
            and self._clock.now() < record.previous_valid_until
            and digest_matches(pepper, secret, record.previous_digest)
        )

    async def _record(self, key_id: str) -> _Record | None:
        cached = self._records.get(key_id)
        if cached is not None and time.monotonic() - cached[1] < self._settings.key_state_ttl:
            return cached[0]
        async with self._db.read() as session:
            row = await session.get(ApiKey, key_id)
            record = (
                None
                if row is None
                else _Record(
                    row.org_id,
                    row.digest,
                    row.previous_digest,
                    row.previous_valid_until,
                    frozenset(row.apps),
                    frozenset(row.methods),
                    row.status,
                    row.expires_at,
                )
            )
        if record is None:
            # Unknown ids are not cached: random well-formed keys must not push out the
            # records of real keys (each one costs a primary-key read instead).
            return None
        if len(self._records) >= 100_000:
            del self._records[next(iter(self._records))]  # the oldest entry only
        self._records[key_id] = (record, time.monotonic())
        return record

    def invalidate(self, key_id: str) -> None:
        self._records.pop(key_id, None)

    async def verify(self, key: str) -> Principal:
        parsed = parse_api_key(key)
        if parsed is None:
            raise InvalidToken("The API key is not valid", detail="malformed managed key")
        pepper = await self._keyring.api_key_pepper()
        record = await self._record(parsed.key_id)
        if record is None or not self._matches(record, pepper, parsed.secret):
            raise InvalidToken("The API key is not valid", detail="unknown key or wrong secret")
        if record.status != "active":
            raise InvalidToken("The API key is not valid", detail="revoked")
        if record.expires_at is not None and record.expires_at <= self._clock.now():
            raise InvalidToken("The API key is not valid", detail="expired")
        self._mark_used(parsed.key_id)
        return Principal(
            subject=parsed.key_id,
            method="api-key",
            kind="api-key",
            org_id=record.org_id,
            methods=record.methods,
            apps=record.apps,
        )

    # -- lastUsedAt, batched --------------------------------------------------------------

    def _mark_used(self, key_id: str) -> None:
        self._used[key_id] = self._clock.now()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_INTERVAL)
        await self.flush()

    async def flush(self) -> int:
        """Write the pending lastUsedAt values (one statement per key, one unit of work)."""
        pending, self._used = self._used, {}
        if not pending:
            return 0
        try:
            async with self._db.session() as session:
                for key_id, when in pending.items():
                    await session.execute(
                        update(ApiKey).where(ApiKey.key_id == key_id).values(last_used_at=when)
                    )
        except Exception:  # a lost lastUsedAt must not break anything; retried next time
            log.warning("could not write lastUsedAt for %d API keys", len(pending))
            for key_id, when in pending.items():
                self._used.setdefault(key_id, when)
        return len(pending)

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        await self.flush()
