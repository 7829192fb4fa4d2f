"""The lifecycle the key-like credentials of an organization share: service keys, API keys
and signing keys. Their management use cases are the same steps on different tables: the
caller's role in the org, the key loaded within the org or "not found", a change and its
audit event in one unit of work, and the node forgetting its cached state of the key.

Each kind is a dataclass subclass of :class:`Credentials` (or :class:`Switchable`, for the
kinds that are disabled and enabled again) and supplies only what differs:

- ``kind``: its table, its name (audit events ``<name>.created``, ``.updated``,
  ``.enabled``, ``.disabled``, ``.deleted`` … with target type ``<name>``), the org
  action that manages it, and its not-found message;
- ``_view(row)``: what callers see of a key (never its secret);
- ``_forget(key_id)``: what this node drops from its caches when a key changes;
- ``_status_changed(row, now)``: what else changes with a key's status.

Creating and rotating stay with each kind: that is where the secrets differ.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Generic, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.core.catalog import MethodCatalog
from propusk.core.errors import InvalidRequest
from propusk.core.identifiers import check_name
from propusk.services.audit import Actor, Origin
from propusk.services.base import UseCase, load_owned
from propusk.services.orgs import Action, Orgs
from propusk.services.scopes import KeyScope, resolve_scope
from propusk.storage.models import ApiKey, ServiceKey, SigningKey

__all__ = [
    "MAX_GRACE_SECONDS",
    "CredentialKind",
    "Credentials",
    "KeyView",
    "OrgScoped",
    "Switchable",
    "check_grace",
    "grace_until",
]

# How long an old secret may keep working after a rotation, so clients can switch over.
MAX_GRACE_SECONDS = 7 * 86400

# The tables of the key-like kinds: the columns the shared steps touch (key_id, org_id,
# name, status, apps, methods, created_at, updated_at) are alike in each.
KeyModel = ServiceKey | ApiKey | SigningKey
R = TypeVar("R", bound=KeyModel)
V = TypeVar("V", bound="KeyView")


@dataclass(frozen=True)
class KeyView:
    """What a view of any key-like credential shows: whose it is, its scope, its name and
    status and times; each kind's view adds its own fields."""

    key_id: str
    org_id: str
    apps: tuple[str, ...]
    methods: tuple[str, ...]
    name: str
    status: str
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class CredentialKind:
    """What the shared steps need to know of one kind of credential."""

    model: type[KeyModel]
    name: str  # in audit event kinds and as their target type: "service_key"
    manage: Action  # what the caller's org role must allow to change a key
    not_found: str  # the answer for a key that is not the org's


@dataclass(eq=False, repr=False)
class OrgScoped(UseCase):
    """A use case on what an organization owns: :class:`Orgs` says who may do what."""

    orgs: Orgs


class Credentials(OrgScoped, Generic[R, V]):
    """The management steps every key-like kind shares; see the module docstring."""

    kind: ClassVar[CredentialKind]
    # Every kind holds the method catalog, declared among its own fields: its place in
    # the constructor differs from kind to kind.
    catalog: MethodCatalog

    def _view(self, row: R) -> V:
        raise NotImplementedError

    def _forget(self, key_id: str) -> None:
        """Drop this node's cached state of ``key_id`` (it changed or is gone)."""

    def _status_changed(self, row: R, now: datetime) -> None:
        """Whatever else changes when ``row`` takes a new status (nothing, by default)."""

    async def _require_manager(self, session: AsyncSession, org_id: str, actor: str) -> None:
        await self.orgs.require(session, org_id, actor, self.kind.manage)

    async def _row(self, session: AsyncSession, org_id: str, key_id: str) -> R:
        row = await load_owned(session, self.kind.model, key_id, org_id, self.kind.not_found)
        return cast(R, row)  # kind.model is R's table

    def _event(
        self,
        session: AsyncSession,
        event: str,
        actor: str | None,
        origin: Origin,
        org_id: str,
        key_id: str,
        data: Mapping[str, object] | None = None,
        *,
        outcome: str = "ok",
    ) -> None:
        """Audit ``<kind>.<event>`` on the key in ``session``'s unit of work. Without an
        ``actor`` the system acted (a leak report, not an account)."""
        by = Actor(actor, origin, org_id, "account" if actor else "system")
        target = (self.kind.name, key_id)
        self.audit.change(session, f"{self.kind.name}.{event}", by, target, data, outcome=outcome)

    # -- updating ------------------------------------------------------------------------

    async def _rename_rescope(
        self,
        session: AsyncSession,
        row: R,
        org_id: str,
        name: str | None,
        scope: KeyScope | None,
        changes: dict[str, object],
    ) -> bool:
        """Give ``row`` the name and scope asked for, noting in ``changes`` what differs;
        whether the scope changed."""
        if name is not None and check_name(name) != row.name:
            row.name = changes["name"] = check_name(name)
        if scope is None:
            return False
        apps, methods = await resolve_scope(session, self.catalog, org_id, scope)
        if (apps, methods) == (list(row.apps), list(row.methods)):
            return False
        row.apps, row.methods = apps, methods
        changes.update(apps=apps, methods=methods)
        return True

    def _updated(
        self,
        session: AsyncSession,
        row: R,
        actor: str,
        origin: Origin,
        org_id: str,
        changes: dict[str, object],
    ) -> None:
        """Stamp and audit an update, if it changed anything (nothing asked for: no write,
        no event)."""
        if changes:
            row.updated_at = self.clock.now()
            self._event(session, "updated", actor, origin, org_id, row.key_id, changes)

    # -- status and deletion ---------------------------------------------------------------

    async def _transition(
        self,
        actor: str | None,
        org_id: str,
        key_id: str,
        origin: Origin,
        status: str,
        event: str,
        data: Mapping[str, object] | None = None,
    ) -> V:
        """Put the key in ``status``, audited as ``<kind>.<event>``; a key already there is
        left alone (no write, no event). ``actor`` None: the system acts, with no role to
        check. The node forgets the key's state either way."""
        async with self.db.session() as session:
            if actor is not None:
                await self._require_manager(session, org_id, actor)
            row = await self._row(session, org_id, key_id)
            if row.status != status:
                row.status = status
                row.updated_at = now = self.clock.now()
                self._status_changed(row, now)
                self._event(session, event, actor, origin, org_id, key_id, data)
            view = self._view(row)
        self._forget(key_id)
        return view

    async def delete(self, actor: str, org_id: str, key_id: str, origin: Origin) -> None:
        """Delete a key for good; the audit event keeps its name."""
        async with self.db.session() as session:
            await self._require_manager(session, org_id, actor)
            row = await self._row(session, org_id, key_id)
            await session.delete(row)
            self._event(session, "deleted", actor, origin, org_id, key_id, {"name": row.name})
        self._forget(key_id)

    # -- reading (last: the method named ``list`` hides the builtin in this class body) ----

    async def get(self, actor: str, org_id: str, key_id: str) -> V:
        """One key of the org, for any member."""
        async with self.db.read() as session:
            await self.orgs.require(session, org_id, actor, "read")
            return self._view(await self._row(session, org_id, key_id))

    async def list(self, actor: str, org_id: str) -> builtins.list[V]:
        """The org's keys, oldest first, for any member."""
        model = self.kind.model
        async with self.db.read() as session:
            await self.orgs.require(session, org_id, actor, "read")
            rows = await session.scalars(
                select(model).where(model.org_id == org_id).order_by(model.created_at, model.key_id)
            )
            return [self._view(cast(R, row)) for row in rows]


class Switchable(Credentials[R, V]):
    """A kind whose keys are disabled and enabled again (service and signing keys; API keys
    are revoked for good instead)."""

    async def set_status(
        self, actor: str, org_id: str, key_id: str, status: str, origin: Origin
    ) -> V:
        """Disable (``"disabled"``) or enable (``"active"``) a key."""
        assert status in ("active", "disabled")
        event = "enabled" if status == "active" else "disabled"
        return await self._transition(actor, org_id, key_id, origin, status, event)


def check_grace(grace_seconds: int) -> None:
    """A rotation's grace period must be 0 to MAX_GRACE_SECONDS."""
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise InvalidRequest(f"graceSeconds must be 0 to {MAX_GRACE_SECONDS}")


def grace_until(now: datetime, grace_seconds: int) -> datetime | None:
    """Until when the secret a rotation replaces keeps working; None: not at all."""
    return now + timedelta(seconds=grace_seconds) if grace_seconds else None
