"""Organizations, their members and apps: the tenants every credential belongs to.

Access rules (one table, applied by :func:`require`):

| action                     | owner | admin | developer | viewer / extra roles |
|----------------------------|-------|-------|-----------|----------------------|
| read org, members, apps    | yes   | yes   | yes       | yes                  |
| create / rename apps       | yes   | yes   | yes       | no                   |
| delete apps                | yes   | yes   | no        | no                   |
| add / change / remove members | yes | yes (not owners) | no | no              |
| read the audit log         | yes   | yes   | no        | no                   |
| manage service keys        | yes   | no    | no        | no (all may list)    |
| manage API keys            | yes   | yes   | no        | no (all may list)    |
| manage signing keys        | yes   | yes   | no        | no (all may list)    |
| request / revoke certificates | yes | yes | no        | no (all may list)    |

Only owners grant, change or remove the owner role, and at least one owner always remains.
Someone who is not a member gets "not found" for everything of the organization, so the
answer never reveals that it exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.config import Settings
from propusk.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from propusk.core.identifiers import check_name, normalize_email
from propusk.core.principals import Principal
from propusk.services.audit import Actor, Audit, AuditRecord, Origin, filtered
from propusk.services.base import load_owned
from propusk.services.clock import Clock
from propusk.services.views import view_of
from propusk.storage.db import Database
from propusk.storage.models import Account, App, AuditEvent, Membership, Organization

__all__ = ["BASE_ROLES", "AppView", "MemberView", "OrgView", "Orgs", "role_may"]

BASE_ROLES = ("owner", "admin", "developer", "viewer")
Action = Literal[
    "read",
    "write_apps",
    "delete_apps",
    "manage_members",
    "read_audit",
    "manage_keys",
    "manage_api_keys",
    "manage_signing_keys",
    "manage_certificates",
]
_ALLOWED: dict[Action, frozenset[str]] = {
    "read": frozenset(),  # every member
    "write_apps": frozenset({"owner", "admin", "developer"}),
    "delete_apps": frozenset({"owner", "admin"}),
    "manage_members": frozenset({"owner", "admin"}),
    "read_audit": frozenset({"owner", "admin"}),
    # Spec §1: only the organization's owner creates, changes and deletes service keys.
    "manage_keys": frozenset({"owner"}),
    # API keys have no such source rule; owners and admins manage them, as in Kong/Unkey.
    "manage_api_keys": frozenset({"owner", "admin"}),
    # Signing keys are partners' public keys (nothing secret is issued); owners and admins
    # onboard partners. Enabling MD5/SHA-1 is the risky part and is audited with a warning.
    "manage_signing_keys": frozenset({"owner", "admin"}),
    # Certificate requests: owners and admins submit and revoke; approval is the CA's.
    "manage_certificates": frozenset({"owner", "admin"}),
}
ORG_NOT_FOUND = "No such organization"


def role_may(role: str, action: Action) -> bool:
    """Whether an org member with ``role`` may do ``action`` (the table above); the console
    asks this to decide which controls to show, so it cannot drift from :meth:`Orgs.require`."""
    allowed = _ALLOWED[action]
    return not allowed or role in allowed


@dataclass(frozen=True)
class OrgView:
    id: str
    name: str
    kind: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class MemberView:
    account_id: str
    email: str | None
    role: str
    created_at: datetime


@dataclass(frozen=True)
class AppView:
    id: str
    org_id: str
    name: str
    created_at: datetime
    updated_at: datetime


class Orgs:
    def __init__(self, db: Database, clock: Clock, audit: Audit, settings: Settings) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self.roles = (*BASE_ROLES, *settings.org_roles_extra)

    async def names(self, actor: Principal, org_ids: Collection[str]) -> dict[str, str]:
        """The names of ``org_ids`` (missing ones left out), for server admins only: the CA
        operator's queue names the organizations whose requests it lists."""
        if not actor.has_role("admin"):
            raise Forbidden("This requires the admin role")
        if not org_ids:
            return {}
        async with self._db.read() as session:
            rows = await session.execute(
                select(Organization.id, Organization.name).where(Organization.id.in_(set(org_ids)))
            )
            return {org_id: name for org_id, name in rows}

    async def role_of(self, session: AsyncSession, org_id: str, account_id: str) -> str | None:
        return await session.scalar(
            select(Membership.role).where(
                Membership.org_id == org_id, Membership.account_id == account_id
            )
        )

    async def require(
        self, session: AsyncSession, org_id: str, account_id: str, action: Action
    ) -> str:
        """The caller's role in the org, if it may do ``action``; NotFound for strangers."""
        role = await self.role_of(session, org_id, account_id)
        if role is None:
            raise NotFound(ORG_NOT_FOUND)
        allowed = _ALLOWED[action]
        if allowed and role not in allowed:
            raise Forbidden("Your role in this organization does not allow this")
        return role

    # -- organizations ----------------------------------------------------------------

    async def create(self, account_id: str, name: str, kind: str, origin: Origin) -> OrgView:
        if kind not in ("company", "individual"):
            raise InvalidRequest("kind must be company or individual")
        now = self._clock.now()
        org = Organization(
            id=str(uuid.uuid4()),
            name=check_name(name),
            kind=kind,
            created_by=account_id,
            created_at=now,
        )
        async with self._db.session() as session:
            session.add(org)
            await session.flush()
            session.add(
                Membership(org_id=org.id, account_id=account_id, role="owner", created_at=now)
            )
            by = Actor(account_id, origin, org.id)
            self._audit.change(session, "org.created", by, ("org", org.id), {"kind": kind})
        return OrgView(org.id, org.name, org.kind, "owner", org.created_at)

    async def list_for(self, account_id: str) -> list[OrgView]:
        async with self._db.read() as session:
            rows = await session.execute(
                select(Organization, Membership.role)
                .join(Membership, Membership.org_id == Organization.id)
                .where(Membership.account_id == account_id)
                .order_by(Organization.created_at, Organization.id)
            )
            return [OrgView(o.id, o.name, o.kind, role, o.created_at) for o, role in rows]

    async def get(self, account_id: str, org_id: str) -> OrgView:
        async with self._db.read() as session:
            role = await self.require(session, org_id, account_id, "read")
            org = await session.get(Organization, org_id)
            assert org is not None
            return OrgView(org.id, org.name, org.kind, role, org.created_at)

    # -- members ----------------------------------------------------------------------

    async def members(self, account_id: str, org_id: str) -> list[MemberView]:
        async with self._db.read() as session:
            await self.require(session, org_id, account_id, "read")
            rows = await session.execute(
                select(Membership, Account.email)
                .join(Account, Account.id == Membership.account_id)
                .where(Membership.org_id == org_id)
                .order_by(Membership.created_at, Membership.account_id)
            )
            return [MemberView(m.account_id, email, m.role, m.created_at) for m, email in rows]

    def _check_role(self, role: str) -> str:
        if role not in self.roles:
            raise InvalidRequest(f"role must be one of: {', '.join(self.roles)}")
        return role

    async def add_member(
        self, account_id: str, org_id: str, email: str, role: str, origin: Origin
    ) -> MemberView:
        self._check_role(role)
        email = normalize_email(email)
        async with self._db.session() as session:
            caller = await self.require(session, org_id, account_id, "manage_members")
            if role == "owner" and caller != "owner":
                raise Forbidden("Only owners manage owners")
            org = await session.get(Organization, org_id)
            assert org is not None
            if org.kind == "individual":
                raise Conflict("An individual developer's organization has exactly one member")
            member = await session.scalar(
                select(Account).where(Account.email == email, Account.kind == "person")
            )
            if member is None:
                raise NotFound("No account with this e-mail address")
            if await self.role_of(session, org_id, member.id) is not None:
                raise Conflict("The account is already a member")
            now = self._clock.now()
            session.add(Membership(org_id=org_id, account_id=member.id, role=role, created_at=now))
            by = Actor(account_id, origin, org_id)
            self._audit.change(
                session, "org.member_added", by, ("account", member.id), {"role": role}
            )
            return MemberView(member.id, member.email, role, now)

    async def _owners(self, session: AsyncSession, org_id: str) -> int:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Membership)
                .where(Membership.org_id == org_id, Membership.role == "owner")
            )
            or 0
        )

    async def _target(self, session: AsyncSession, org_id: str, member_id: str) -> Membership:
        # Membership changes of one org are serialized on the org's row, so two owners
        # demoting each other at once cannot both pass the "one owner remains" check
        # (PostgreSQL takes the row lock; SQLite serializes every write transaction anyway).
        await session.execute(
            select(Organization.id).where(Organization.id == org_id).with_for_update()
        )
        target = await session.get(Membership, (org_id, member_id))
        if target is None:
            raise NotFound("No such member")
        return target

    async def change_role(
        self, account_id: str, org_id: str, member_id: str, role: str, origin: Origin
    ) -> MemberView:
        self._check_role(role)
        async with self._db.session() as session:
            caller = await self.require(session, org_id, account_id, "manage_members")
            target = await self._target(session, org_id, member_id)
            if "owner" in (role, target.role) and caller != "owner":
                raise Forbidden("Only owners manage owners")
            if (
                target.role == "owner"
                and role != "owner"
                and await self._owners(session, org_id) < 2
            ):
                raise Conflict("An organization keeps at least one owner")
            before, target.role = target.role, role
            by, data = Actor(account_id, origin, org_id), {"before": before, "after": role}
            self._audit.change(session, "org.member_role_changed", by, ("account", member_id), data)
            email = await session.scalar(select(Account.email).where(Account.id == member_id))
            return MemberView(member_id, email, role, target.created_at)

    async def remove_member(
        self, account_id: str, org_id: str, member_id: str, origin: Origin
    ) -> None:
        async with self._db.session() as session:
            caller = await self.require(session, org_id, account_id, "manage_members")
            target = await self._target(session, org_id, member_id)
            if target.role == "owner" and caller != "owner":
                raise Forbidden("Only owners manage owners")
            if target.role == "owner" and await self._owners(session, org_id) < 2:
                raise Conflict("An organization keeps at least one owner")
            await session.delete(target)
            by = Actor(account_id, origin, org_id)
            self._audit.change(
                session, "org.member_removed", by, ("account", member_id), {"role": target.role}
            )

    # -- apps -------------------------------------------------------------------------

    async def create_app(self, account_id: str, org_id: str, name: str, origin: Origin) -> AppView:
        now = self._clock.now()
        app = App(
            id=str(uuid.uuid4()),
            org_id=org_id,
            name=check_name(name),
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.session() as session:
                await self.require(session, org_id, account_id, "write_apps")
                session.add(app)
                by = Actor(account_id, origin, org_id)
                self._audit.change(session, "app.created", by, ("app", app.id), {"name": app.name})
        except IntegrityError:
            raise Conflict("An app with this name already exists") from None
        return AppView(app.id, org_id, app.name, now, now)

    async def apps(self, account_id: str, org_id: str) -> list[AppView]:
        async with self._db.read() as session:
            await self.require(session, org_id, account_id, "read")
            rows = await session.scalars(
                select(App).where(App.org_id == org_id).order_by(App.created_at, App.id)
            )
            return [view_of(AppView, a) for a in rows]

    async def _app(self, session: AsyncSession, org_id: str, app_id: str) -> App:
        return await load_owned(session, App, app_id, org_id, "No such app")

    async def app(self, account_id: str, org_id: str, app_id: str) -> AppView:
        async with self._db.read() as session:
            await self.require(session, org_id, account_id, "read")
            a = await self._app(session, org_id, app_id)
            return view_of(AppView, a)

    async def rename_app(
        self, account_id: str, org_id: str, app_id: str, name: str, origin: Origin
    ) -> AppView:
        clean = check_name(name)
        try:
            async with self._db.session() as session:
                await self.require(session, org_id, account_id, "write_apps")
                a = await self._app(session, org_id, app_id)
                before, a.name, a.updated_at = a.name, clean, self._clock.now()
                by = Actor(account_id, origin, org_id)
                self._audit.change(
                    session, "app.renamed", by, ("app", app_id), {"before": before, "after": clean}
                )
                view = view_of(AppView, a)
        except IntegrityError:
            raise Conflict("An app with this name already exists") from None
        return view

    async def delete_app(self, account_id: str, org_id: str, app_id: str, origin: Origin) -> None:
        async with self._db.session() as session:
            await self.require(session, org_id, account_id, "delete_apps")
            a = await self._app(session, org_id, app_id)
            await session.delete(a)
            by = Actor(account_id, origin, org_id)
            self._audit.change(session, "app.deleted", by, ("app", app_id), {"name": a.name})

    # -- audit ------------------------------------------------------------------------

    async def audit(
        self,
        account_id: str,
        org_id: str,
        *,
        kind: str | None = None,
        actor_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditRecord]:
        """A page of the org's events, newest first; ``before_id`` is the paging cursor."""
        query = filtered(
            select(AuditEvent).where(AuditEvent.org_id == org_id),
            kind=kind,
            actor_id=actor_id,
            since=since,
            until=until,
            before_id=before_id,
        )
        async with self._db.read() as session:
            await self.require(session, org_id, account_id, "read_audit")
            rows = await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit))
            return [view_of(AuditRecord, row) for row in rows]
