"""Short-lived shared state: counters for rate limits, markers for replay caches.

``MemoryCache`` is the single-node default; ``RedisCache`` shares state across nodes.
Both give the same answers, and the test suite runs the same tests against both.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from redis.asyncio import Redis

from propusk.storage.faults import Outage, is_cache_outage

__all__ = ["Cache", "MemoryCache", "RedisCache", "create_cache"]


class Cache(Protocol):
    async def incr(self, key: str, ttl: int) -> tuple[int, int]:
        """Add one to the counter ``key`` (created with ``ttl`` seconds to live).
        Returns the new count and the seconds left before the counter disappears."""
        ...

    async def peek(self, key: str) -> tuple[int, int]:
        """The counter's value and seconds left; ``(0, 0)`` when absent."""
        ...

    async def add(self, key: str, ttl: int) -> bool:
        """Set ``key`` if absent; True when this call set it (a first use)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def ping(self) -> None:
        """Nothing, or ServiceUnavailable when the backend cannot be reached (health)."""
        ...

    async def close(self) -> None: ...


class MemoryCache:
    """In-process cache with lazy expiry, bounded so hostile traffic cannot grow it forever.

    Entries live in namespaces (the key up to its first ``:``), each holding at most
    ``max_entries``, so flooding one kind of entry (say, mail-throttle counters) cannot push
    out another (replay markers). When a namespace is full, expired entries are swept (at
    most once a second), then:

    - a counter (``incr``) evicts the oldest entry of its namespace: a forgotten counter
      only lets a few more attempts through;
    - a marker (``add``) is refused, as if already present: forgetting a replay marker early
      would let a captured request be replayed, so the cache fails closed instead.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 100_000):
        self._clock = clock
        self._max = max_entries
        self._spaces: dict[str, dict[str, tuple[int, float]]] = {}
        self._swept: dict[str, float] = {}

    def _space(self, key: str) -> dict[str, tuple[int, float]]:
        return self._spaces.setdefault(key.partition(":")[0], {})

    def _live(self, key: str) -> tuple[int, float] | None:
        space = self._space(key)
        entry = space.get(key)
        if entry is not None and entry[1] <= self._clock():
            del space[key]
            return None
        return entry

    def _full(self, key: str) -> bool:
        """True when the key's namespace is still full after sweeping expired entries."""
        space = self._space(key)
        if len(space) < self._max:
            return False
        name = key.partition(":")[0]
        now = self._clock()
        if now - self._swept.get(name, float("-inf")) >= 1.0:
            self._swept[name] = now
            for stale in [k for k, (_, exp) in space.items() if exp <= now]:
                del space[stale]
        return len(space) >= self._max

    def _left(self, expires: float) -> int:
        return max(1, math.ceil(expires - self._clock()))

    async def incr(self, key: str, ttl: int) -> tuple[int, int]:
        entry = self._live(key)
        space = self._space(key)
        if entry is None:
            if self._full(key):
                del space[next(iter(space))]  # the oldest counter of this namespace
            entry = (0, self._clock() + ttl)
        count, expires = entry[0] + 1, entry[1]
        space[key] = (count, expires)
        return count, self._left(expires)

    async def peek(self, key: str) -> tuple[int, int]:
        entry = self._live(key)
        return (0, 0) if entry is None else (entry[0], self._left(entry[1]))

    async def add(self, key: str, ttl: int) -> bool:
        if self._live(key) is not None or self._full(key):
            return False
        self._space(key)[key] = (1, self._clock() + ttl)
        return True

    async def delete(self, key: str) -> None:
        self._space(key).pop(key, None)

    async def ping(self) -> None:
        """Process memory is always there."""

    async def close(self) -> None:
        self._spaces.clear()


class RedisCache:
    """Redis-backed cache: the same semantics, shared by every node. An unreachable Redis
    raises ServiceUnavailable (a 503 with Retry-After at the edge), logged once per
    outage."""

    def __init__(self, client: Redis, *, prefix: str = "propusk:") -> None:
        self._redis = client
        self._prefix = prefix
        self.outage = Outage("redis")

    @asynccontextmanager
    async def _calling(self) -> AsyncIterator[None]:
        started = self.outage.now()
        try:
            yield
        except Exception as exc:
            if is_cache_outage(exc):
                raise self.outage.failed(exc) from None
            raise
        self.outage.ok(started)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "propusk:") -> RedisCache:
        return cls(Redis.from_url(url), prefix=prefix)

    async def incr(self, key: str, ttl: int) -> tuple[int, int]:
        k = self._prefix + key
        async with self._calling(), self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(k)
            pipe.expire(k, ttl, nx=True)
            pipe.ttl(k)
            count, _, left = await pipe.execute()
        return int(count), max(1, int(left))

    async def peek(self, key: str) -> tuple[int, int]:
        k = self._prefix + key
        async with self._calling(), self._redis.pipeline(transaction=False) as pipe:
            pipe.get(k)
            pipe.ttl(k)
            value, left = await pipe.execute()
        if value is None:
            return 0, 0
        return int(value), max(1, int(left))

    async def add(self, key: str, ttl: int) -> bool:
        async with self._calling():
            return bool(await self._redis.set(self._prefix + key, 1, ex=ttl, nx=True))

    async def delete(self, key: str) -> None:
        async with self._calling():
            await self._redis.delete(self._prefix + key)

    async def ping(self) -> None:
        async with self._calling():
            await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(redis_url: str | None) -> Cache:
    return RedisCache.from_url(redis_url) if redis_url else MemoryCache()
