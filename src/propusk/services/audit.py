"""The audit trail: append-only events with actor, time, source address and no secrets.

An event that belongs to a change is written in the same unit of work, so it commits or
rolls back with it. A failure event (a refused login, a detected token reuse) is written in
a unit of work of its own, because the request that caused it is about to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import Unpack

from propusk.services.clock import Clock
from propusk.services.views import view_of
from propusk.storage.db import Database
from propusk.storage.models import AuditEvent

__all__ = ["Actor", "Audit", "AuditRecord", "EventFields", "Origin", "filtered"]

_T = TypeVar("_T")

# Field names that must never reach the audit log. A bug that tries is caught in tests.
_SECRET_WORDS = ("password", "secret", "token", "private", "code", "key")


@dataclass(frozen=True)
class Origin:
    """Where a request came from (after trusted-proxy resolution)."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who makes a change, from where, and in which organization: what the events of one
    use case share (a change event adds its target and data, see :meth:`Audit.change`)."""

    id: str | None
    origin: Origin | None
    org_id: str | None = None
    type: str = "account"  # or "system" (the CLI, a leak report), "service_key"


class EventFields(TypedDict, total=False):
    """What an event may say besides its kind; see :class:`AuditEvent`."""

    actor_type: str  # "account" when not given
    actor_id: str | None
    origin: Origin | None
    outcome: str  # "ok" when not given
    target_type: str | None
    target_id: str | None
    org_id: str | None
    data: Mapping[str, Any] | None


class Audit:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _event(self, kind: str, fields: EventFields) -> AuditEvent:
        payload = dict(fields.get("data") or {})
        for name in payload:
            if any(word in name.lower() for word in _SECRET_WORDS):
                raise ValueError(f"audit data field {name!r} looks like a secret")
        origin = fields.get("origin")
        return AuditEvent(
            at=self._clock.now(),
            kind=kind,
            outcome=fields.get("outcome", "ok"),
            actor_type=fields.get("actor_type", "account"),
            actor_id=fields.get("actor_id"),
            org_id=fields.get("org_id"),
            target_type=fields.get("target_type"),
            target_id=fields.get("target_id"),
            ip=origin.ip if origin else None,
            data=payload,
        )

    def add(self, session: AsyncSession, kind: str, **fields: Unpack[EventFields]) -> None:
        """Record an event inside ``session``'s unit of work."""
        session.add(self._event(kind, fields))

    def change(
        self,
        session: AsyncSession,
        kind: str,
        by: Actor,
        target: tuple[str, str],
        data: Mapping[str, Any] | None = None,
        *,
        outcome: str = "ok",
    ) -> None:
        """Record inside ``session``'s unit of work that ``by`` changed ``target`` (its type
        and id); what :meth:`add` records from the same fields spelled out."""
        target_type, target_id = target
        session.add(
            self._event(
                kind,
                {
                    "actor_type": by.type,
                    "actor_id": by.id,
                    "origin": by.origin,
                    "outcome": outcome,
                    "org_id": by.org_id,
                    "target_type": target_type,
                    "target_id": target_id,
                    "data": data,
                },
            )
        )

    async def record(self, kind: str, **fields: Unpack[EventFields]) -> None:
        """Record an event in a unit of work of its own (for failures)."""
        async with self._db.session() as session:
            session.add(self._event(kind, fields))

    async def events(
        self,
        *,
        kind: str | None = None,
        actor_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        query = filtered(query, kind=kind, actor_id=actor_id, since=since)
        async with self._db.read() as session:
            return [view_of(AuditRecord, row) for row in await session.scalars(query)]


@dataclass(frozen=True)
class AuditRecord:
    """One recorded event, as the web and the CLI show it (never the row itself)."""

    id: int
    at: datetime
    kind: str
    outcome: str
    actor_type: str
    actor_id: str | None
    org_id: str | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    data: dict[str, Any]


def filtered(
    query: Select[_T],
    *,
    kind: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
) -> Select[_T]:
    """``query`` over audit events narrowed by whichever filters are given: the kind, the
    actor, from ``since`` (inclusive) to ``until`` (exclusive), ids below ``before_id``
    (the paging cursor)."""
    if kind is not None:
        query = query.where(AuditEvent.kind == kind)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return query
