"""Managed API keys (``X-API-Key: propusk_<keyId>_<secret>``): scoped like service keys,
stored only as HMAC-SHA256 with a pepper from the keyring, shown once.

Verification reads the key's record by id (cached per node for ``key_state_ttl`` seconds,
forgotten at once on this node when the key changes) and compares digests in constant
time. ``lastUsedAt`` is kept in memory and written in batches, never once per request.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from propusk.config import Settings
from propusk.core.apikeys import (
    ParsedApiKey,
    api_key_digest,
    digest_matches,
    make_api_key,
    parse_api_key,
)
from propusk.core.catalog import MethodCatalog
from propusk.core.errors import InvalidRequest, InvalidToken
from propusk.core.identifiers import check_name
from propusk.core.principals import Principal
from propusk.services.audit import Origin
from propusk.services.credentials import (
    CredentialKind,
    Credentials,
    KeyView,
    check_grace,
    grace_until,
)
from propusk.services.keyring import Keyring
from propusk.services.last_used import LastUsed
from propusk.services.node_cache import MISS, Miss, NodeCache
from propusk.services.scopes import KeyScope, resolve_scope
from propusk.services.views import view_of
from propusk.storage.models import ApiKey

__all__ = ["ApiKeyView", "ApiKeys", "NewApiKey"]

log = logging.getLogger("propusk.api_keys")
NOT_FOUND = "No such API key"


@dataclass(frozen=True)
class ApiKeyView(KeyView):
    """An API key as it may be shown again: its prefix and last four characters only."""

    prefix: str
    last4: str
    expires_at: datetime | None


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


def _key_view(row: ApiKey, last_used_at: datetime | None) -> ApiKeyView:
    return view_of(ApiKeyView, row, prefix=f"propusk_{row.key_id}", last_used_at=last_used_at)


@dataclass(eq=False, repr=False)
class ApiKeys(Credentials[ApiKey, ApiKeyView]):
    """Managed API keys of organizations, and their verification."""

    keyring: Keyring
    catalog: MethodCatalog
    settings: Settings

    kind = CredentialKind(ApiKey, "api_key", "manage_api_keys", NOT_FOUND)

    def __post_init__(self) -> None:
        self._records: NodeCache[str, _Record] = NodeCache(self.settings.key_state_ttl)
        self.changes.on("api-key", self._records.forget, self._records.clear)
        self._used = LastUsed(self.db, self.clock, ApiKey.key_id, "API keys", log)

    def _view(self, row: ApiKey) -> ApiKeyView:
        return _key_view(row, self._used.latest(row.key_id, row.last_used_at))

    def _forget(self, key_id: str) -> None:
        self.invalidate(key_id)

    def _status_changed(self, row: ApiKey, now: datetime) -> None:
        row.revoked_at = now  # "revoked" is the only status an API key moves to

    # -- management ---------------------------------------------------------------------

    def _check_expiry(self, expires_at: datetime | None) -> None:
        if expires_at is not None and expires_at <= self.clock.now():
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
        pepper = await self.keyring.api_key_pepper()
        key = make_api_key(secrets.token_bytes(8), secrets.token_bytes(32))
        now = self.clock.now()
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            apps, methods = await resolve_scope(session, self.catalog, org_id, scope)
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
            data = {"name": clean, "apps": apps, "methods": methods}
            self._event(session, "created", actor, origin, org_id, key.key_id, data)
            return NewApiKey(self._view(row), str(key))

    async def list_keys(self, actor: str, org_id: str) -> list[ApiKeyView]:
        """The org's API keys, oldest first, for any member."""
        return await self.list(actor, org_id)

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
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            row = await self._row(session, org_id, key_id)
            changes: dict[str, object] = {}
            await self._rename_rescope(session, row, org_id, name, scope, changes)
            if expires_at is not None or clear_expiry:
                row.expires_at = expires_at
                changes["expires_at"] = expires_at.isoformat() if expires_at else None
            self._updated(session, row, actor, origin, org_id, changes)
            view = self._view(row)
        self.invalidate(key_id)
        return view

    async def reroll(
        self, actor: str, org_id: str, key_id: str, origin: Origin, *, grace_seconds: int = 0
    ) -> NewApiKey:
        """A new secret under the same key id; the old one keeps working for
        ``grace_seconds`` (so clients can be switched over), then never again."""
        check_grace(grace_seconds)
        pepper = await self.keyring.api_key_pepper()
        # Only the secret changes; the key id (validated by the lookup below) stays.
        secret = secrets.token_bytes(32).hex()
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            row = await self._row(session, org_id, key_id)
            if row.status != "active":
                raise InvalidRequest("a revoked key cannot be rerolled")
            now = self.clock.now()
            row.previous_valid_until = until = grace_until(now, grace_seconds)
            row.previous_digest = row.digest if until else None
            fresh = ParsedApiKey(key_id, secret)
            row.digest = api_key_digest(pepper, fresh.secret)
            row.last4 = fresh.last4
            row.updated_at = now
            data = {"grace_seconds": grace_seconds}
            self._event(session, "rerolled", actor, origin, org_id, key_id, data)
            result = NewApiKey(self._view(row), str(fresh))
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
        """Revoke for good (``actor`` None: the system, for a leak report)."""
        data = {"reason": reason}
        return await self._transition(actor, org_id, key_id, origin, "revoked", "revoked", data)

    async def report_leaked(self, keys: Iterable[str], origin: Origin) -> list[tuple[str, bool]]:
        """Revoke every reported string that is a valid key of ours (a secret scanner's
        report); answers (key id or "", revoked) per string, and never echoes a secret."""
        pepper = await self.keyring.api_key_pepper()
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
            and self.clock.now() < record.previous_valid_until
            and digest_matches(pepper, secret, record.previous_digest)
        )

    async def _record(self, key_id: str) -> _Record | None:
        return await self._records.get_or_load(key_id, self._read_record)

    async def _read_record(self, key_id: str) -> _Record | Miss:
        async with self.db.read() as session:
            row = await session.get(ApiKey, key_id)
        if row is None:
            return MISS  # unknown ids are not cached (random well-formed keys are cheap)
        return _Record(
            row.org_id,
            row.digest,
            row.previous_digest,
            row.previous_valid_until,
            frozenset(row.apps),
            frozenset(row.methods),
            row.status,
            row.expires_at,
        )

    def invalidate(self, key_id: str) -> None:
        """``key_id`` changed: every process forgets its cached record."""
        self.changes.changed("api-key", key_id)

    async def verify(self, key: str) -> Principal:
        parsed = parse_api_key(key)
        if parsed is None:
            raise InvalidToken("The API key is not valid", detail="malformed managed key")
        pepper = await self.keyring.api_key_pepper()
        record = await self._record(parsed.key_id)
        if record is None or not self._matches(record, pepper, parsed.secret):
            raise InvalidToken("The API key is not valid", detail="unknown key or wrong secret")
        if record.status != "active":
            raise InvalidToken("The API key is not valid", detail="revoked")
        if record.expires_at is not None and record.expires_at <= self.clock.now():
            raise InvalidToken("The API key is not valid", detail="expired")
        self._used.mark(parsed.key_id)
        return Principal(
            subject=parsed.key_id,
            method="api-key",
            kind="api-key",
            org_id=record.org_id,
            methods=record.methods,
            apps=record.apps,
        )

    # -- lastUsedAt, batched (see propusk.services.last_used) ------------------------------

    async def flush(self) -> int:
        """Write the pending lastUsedAt values now; how many."""
        return await self._used.flush()

    async def close(self) -> None:
        await self._used.close()
