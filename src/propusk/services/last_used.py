"""``lastUsedAt`` of credentials that are checked on every request (API keys, signing keys):
kept in memory and written behind in batches, never one database write per request.

A use marks the key; the first mark starts a task that writes every pending time after
``FLUSH_INTERVAL`` seconds in one unit of work. Views show the pending time at once (the
later of it and the stored one). A failed write keeps the times for the next flush: a lost
``lastUsedAt`` must never break a request.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import InstrumentedAttribute

from propusk.core.errors import ServiceUnavailable
from propusk.services.clock import Clock
from propusk.storage.db import Database

__all__ = ["FLUSH_INTERVAL", "LastUsed"]

FLUSH_INTERVAL = 30.0


@dataclass(eq=False, repr=False)
class LastUsed:
    """Pending ``last_used_at`` values of one table, by its id column ``key``; ``what``
    names the keys in ``log`` ("API keys")."""

    db: Database
    clock: Clock
    key: InstrumentedAttribute[str]
    what: str
    log: logging.Logger
    _pending: dict[str, datetime] = field(default_factory=dict, init=False)
    _flusher: asyncio.Task[None] | None = field(default=None, init=False)

    def mark(self, key_id: str) -> None:
        """``key_id`` was used now (call on the event loop)."""
        self._pending[key_id] = self.clock.now()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    def latest(self, key_id: str, stored: datetime | None) -> datetime | None:
        """What a view shows: the later of the stored time and one not written yet."""
        return max(filter(None, (stored, self._pending.get(key_id))), default=None)

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_INTERVAL)
        await self.flush()

    async def flush(self) -> int:
        """Write the pending values (one statement per key, one unit of work); how many."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            async with self.db.session() as session:
                for key_id, when in pending.items():
                    await session.execute(
                        update(self.key.class_).where(self.key == key_id).values(last_used_at=when)
                    )
        except ServiceUnavailable:
            # The database is down: the outage is logged once, where it was detected
            # (storage.faults); the times wait for the next flush.
            self._keep(pending)
        except Exception:  # a lost lastUsedAt must not break anything; retried next time
            # With the traceback: a broad except must not hide a bug (only key ids and
            # times are in these statements, nothing secret).
            self.log.warning(
                "could not write lastUsedAt for %d %s", len(pending), self.what, exc_info=True
            )
            self._keep(pending)
        return len(pending)

    def _keep(self, pending: dict[str, datetime]) -> None:
        """Put unwritten times back for the next flush (a newer use, marked meanwhile,
        wins)."""
        for key_id, when in pending.items():
            self._pending.setdefault(key_id, when)

    async def close(self) -> None:
        """Stop the timer and write what is pending (at shutdown)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        await self.flush()
