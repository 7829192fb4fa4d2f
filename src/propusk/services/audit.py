"""The audit trail: append-only events with actor, time, source address and no secrets.

An event that belongs to a change is written in the same unit of work, so it commits or
rolls back with it. A failure event (a refused login, a detected token reuse) is written in
a unit of work of its own, because the request that caused it is about to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.services.clock import Clock
from propusk.storage.db import Database
from propusk.storage.models import AuditEvent

__all__ = ["Audit", "Origin"]

# Field names that must never reach the audit log. A bug that tries is caught in tests.
_SECRET_WORDS = ("password", "secret", "token", "private", "code", "key")


@dataclass(frozen=True)
class Origin:
    """Where a request came from (after trusted-proxy resolution)."""

    ip: str | None = None
    user_agent: str | None = None


class Audit:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _event(
        self,
        kind: str,
        *,
        actor_type: str,
        actor_id: str | None,
        origin: Origin | None,
        outcome: str,
        target_type: str | None,
        target_id: str | None,
        org_id: str | None,
        data: Mapping[str, Any] | None,
    ) -> AuditEvent:
        payload = dict(data or {})
        for name in payload:
            if any(word in name.lower() for word in _SECRET_WORDS):
                raise ValueError(f"audit data field {name!r} looks like a secret")
        return AuditEvent(
            at=self._clock.now(),
            kind=kind,
            outcome=outcome,
            actor_type=actor_type,
            actor_id=actor_id,
            org_id=org_id,
            target_type=target_type,
            target_id=target_id,
            ip=origin.ip if origin else None,
            data=payload,
        )

    def add(
        self,
        session: AsyncSession,
        kind: str,
        *,
        actor_type: str = "account",
        actor_id: str | None = None,
        origin: Origin | None = None,
        outcome: str = "ok",
        target_type: str | None = None,
        target_id: str | None = None,
        org_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an event inside ``session``'s unit of work."""
        session.add(
            self._event(
                kind,
                actor_type=actor_type,
                actor_id=actor_id,
                origin=origin,
                outcome=outcome,
                target_type=target_type,
                target_id=target_id,
                org_id=org_id,
                data=data,
            )
        )

    async def record(
        self,
        kind: str,
        *,
        actor_type: str = "account",
        actor_id: str | None = None,
        origin: Origin | None = None,
        outcome: str = "ok",
        target_type: str | None = None,
        target_id: str | None = None,
        org_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an event in a unit of work of its own (for failures)."""
        async with self._db.session() as session:
            self.add(
                session,
                kind,
                actor_type=actor_type,
                actor_id=actor_id,
                origin=origin,
                outcome=outcome,
                target_type=target_type,
                target_id=target_id,
                org_id=org_id,
                data=data,
            )

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
        async with self._db.session() as session:
            return list(await session.scalars(query))
