"""Health of the backends, for ``/status`` and ``/readyz``: does the database answer, does
Redis (when configured) answer.

Each check is one round trip (``SELECT 1``, ``PING``), both run at once, each bounded by
``timeout`` seconds so that a backend that hangs (rather than refusing) cannot hang the
probe. A failure is an outage of that backend: it goes through the backend's
:class:`~propusk.storage.faults.Outage`, logged once when it begins and once when it ends,
however often a load balancer asks meanwhile — never a traceback per probe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import text

from propusk.core.errors import ServiceUnavailable
from propusk.storage.cache import Cache, RedisCache
from propusk.storage.db import Database
from propusk.storage.faults import Outage

__all__ = ["CHECK_TIMEOUT", "BackendState", "Health", "Report"]

CHECK_TIMEOUT = 2.0

BackendState = Literal["ok", "unavailable", "not configured"]


@dataclass(frozen=True)
class Report:
    """What each backend said; ``ready`` when every configured one answered."""

    database: BackendState
    redis: BackendState
    retry_after: int = 2  # what an answer that is not ready says in Retry-After

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.redis != "unavailable"


@dataclass(eq=False)
class Health:
    """Checks the database and the cache. A cache that is not Redis is process memory:
    Redis is then "not configured", never down."""

    db: Database
    cache: Cache
    timeout: float = CHECK_TIMEOUT

    async def _database(self) -> None:
        async with self.db.read() as session:
            await session.execute(text("SELECT 1"))

    async def _answers(self, check: Coroutine[Any, Any, None], outage: Outage | None) -> bool:
        try:
            await asyncio.wait_for(check, self.timeout)
        except ServiceUnavailable:
            return False  # the outage is already noted (and logged once) by storage
        except TimeoutError as exc:
            # A backend that hangs is down too: noted the same way, so logged once.
            if outage is not None:
                outage.failed(exc)
            return False
        return True

    async def check(self) -> Report:
        """Both backends, concurrently."""
        redis = self.cache if isinstance(self.cache, RedisCache) else None
        db_ok, redis_ok = await asyncio.gather(
            self._answers(self._database(), self.db.outage),
            self._answers(self.cache.ping(), redis.outage if redis is not None else None),
        )
        redis_state: BackendState = "ok" if redis_ok else "unavailable"
        return Report(
            database="ok" if db_ok else "unavailable",
            redis=redis_state if redis is not None else "not configured",
            retry_after=self.db.outage.retry_after,
        )
