"""The audit trail: append-only events with actor, time, source address and no secrets.

An event that belongs to a change is written in the same unit of work, so it commits or
rolls back with it. A failure event (a refused login, a detected token reuse) is written in
a unit of work of its own, because the request that caused it is about to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import Unpack

from propusk.services.clock import Clock
from propusk.storage.db import Database
from propusk.storage.models import AuditEvent

__all__ = ["Audit", "EventFields", "Origin"]

# Field names that must never reach the audit log. A bug that tries is caught in tests.
_SECRET_WORDS = ("password", "secret", "token", "private", "code", "key")


@dataclass(frozen=True)
class Origin:
    """Where a request came from (after trusted-proxy resolution)."""

    ip: str | None = None
    user_agent: str | None = None


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
    ) -> list[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(AuditEvent.kind == kind)
        if actor_id is not None:
            query = query.where(AuditEvent.actor_id == actor_id)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        async with self._db.read() as session:
            return list(await session.scalars(query))
