"""The per-node cache of credential state that the request path reads instead of the
database: API-key records, signing keys, certificates and service keys.

An entry is trusted for ``ttl`` seconds (``key_state_ttl``), then read again, so a change
made on another node is seen within that bound; the node that makes a change forgets the
entry at once. The cache is bounded: anyone can present ids, and memory must not grow
with them.

A read that was under way when its entry was forgotten may have read the state from
before the change; it answers its caller but is not cached, or a change announced by
another node while this node was reading would be lost until the TTL ran out.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Final, Generic, Literal, TypeVar

__all__ = ["MAX_ENTRIES", "MISS", "Miss", "NodeCache"]

MAX_ENTRIES = 100_000

K = TypeVar("K")
V = TypeVar("V")


class Miss(Enum):
    """Not cached (or too old): distinct from a cached None, which means "known absent"."""

    MISS = "miss"


MISS: Final = Miss.MISS


class NodeCache(Generic[K, V]):
    """Values by key, each fresh for ``ttl`` seconds (monotonic time, immune to clock
    changes). When ``max_entries`` are held, a new entry first drops the ``evict`` oldest."""

    def __init__(self, ttl: float, *, max_entries: int = MAX_ENTRIES, evict: int = 1) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._evict = evict
        self._entries: dict[K, tuple[V, float]] = {}
        # Counts forgets and clears: a load that sees it move may hold a stale value.
        self._changes = 0

    def get(self, key: K) -> V | Literal[Miss.MISS]:
        """The cached value while it is fresh, else MISS (read it, then :meth:`put` it)."""
        cached = self._entries.get(key)
        if cached is not None and time.monotonic() - cached[1] < self._ttl:
            return cached[0]
        return MISS

    async def get_or_load(
        self, key: K, load: Callable[[K], Awaitable[V | Literal[Miss.MISS]]]
    ) -> V | None:
        """The fresh cached value, else what ``load`` reads, cached from now on. ``load``
        answers MISS for a key that does not exist when that must not be cached (then this
        answers None): made-up ids, which anyone can send, must not push out real entries;
        each costs one read instead."""
        cached = self.get(key)
        if cached is not MISS:
            return cached
        before = self._changes
        loaded = await load(key)
        if loaded is MISS:
            return None
        if self._changes == before:  # else a change came during the read: maybe stale
            self.put(key, loaded)
        return loaded

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self._max:
            for stale in list(itertools.islice(self._entries, self._evict)):
                del self._entries[stale]
        self._entries[key] = (value, time.monotonic())

    def forget(self, key: K) -> None:
        """Drop one entry (it changed, here or on another node)."""
        self._changes += 1
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._changes += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
