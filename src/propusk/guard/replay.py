"""``LocalReplayCache``: the :class:`~propusk.guard.ports.ReplayCache` of one process.

The server's replay cache is its shared cache (in-process, or Redis across nodes). A
resource API that embeds the guard in remote mode has none of that, so it gets this one:
bounded, in memory, **per process**. A replayed signed request is refused by the process
that saw the first one; sent to another process (another worker, another replica) it is
not. Pass a shared implementation of the port (for example over your own Redis) to
``remote_gate(replay_cache=…)`` when that matters.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable

__all__ = ["LocalReplayCache"]

log = logging.getLogger("propusk.guard")


class LocalReplayCache:
    """At most ``max_entries`` markers, each remembered for its ``ttl``.

    When full of markers that have not expired yet, :meth:`add` answers False (fail
    closed): the port's contract, because forgetting a marker early would let a replay
    through. Only verified requests reach the cache (signatures are checked first), so
    only a partner can fill it; size it for your partners' traffic within their replay
    windows.
    """

    def __init__(
        self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._until: dict[str, float] = {}
        # (expiry, key) in expiry order; an entry whose key has a later expiry in _until
        # (set again after it expired) is stale and skipped.
        self._expiries: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._until)

    def _purge(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            until, key = heapq.heappop(heap)
            if self._until.get(key) == until:
                del self._until[key]

    async def add(self, key: str, ttl: int) -> bool:
        """Set ``key`` for ``ttl`` seconds if absent; True when this call set it."""
        now = self._clock()
        self._purge(now)
        if key in self._until:
            return False
        if len(self._until) >= self._max:
            log.warning("replay cache full (%d markers): refusing until some expire", self._max)
            return False
        until = now + max(ttl, 1)
        self._until[key] = until
        heapq.heappush(self._expiries, (until, key))
        return True
