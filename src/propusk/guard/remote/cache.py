"""The remote verifier's memory: bounded caches keyed by hashes of credentials, and one
request in flight per credential.

- :class:`CredentialKeys` turns a credential into a cache key with a keyed BLAKE2b whose
  key is random per process: a cache (or a memory dump of it) holds no credential, and
  its keys cannot be checked against guessed credentials elsewhere.
- :class:`BoundedTTLCache` holds entries for their own lifetime, at most ``max_entries``,
  dropping the least recently used first. Positive and negative answers live in two
  separate instances, so a flood of garbage credentials (each one negative) can push out
  only other negative entries, never a good one.
- :class:`SingleFlight` lets concurrent misses for one credential share one request to
  the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["BoundedTTLCache", "CredentialKeys", "SingleFlight"]

V = TypeVar("V")


class CredentialKeys:
    """Cache keys for credentials: ``BLAKE2b-128(kind NUL credential)`` under a key that
    is random per instance (never the credential itself)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def key(self, kind: str, credential: str) -> str:
        data = kind.encode() + b"\0" + credential.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, key=self._secret, digest_size=16).hexdigest()


class BoundedTTLCache(Generic[V]):
    """``key → value`` until a per-entry deadline of ``clock`` (monotonic seconds)."""

    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must not be negative")
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> list[str]:
        return list(self._entries)

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline, value = entry
        if self._clock() >= deadline:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: V, ttl: float) -> None:
        """Remember ``value`` for ``ttl`` seconds; a ttl of zero or less stores nothing."""
        if ttl <= 0 or self._max == 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)  # the least recently used

    def discard(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class SingleFlight(Generic[V]):
    """One call of ``fetch`` per key at a time; callers that arrive meanwhile await it.

    The call runs as its own task, shielded from the callers: one caller giving up (its
    client went away) does not cancel the answer the others are waiting for.
    """

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._running)

    async def run(self, key: str, fetch: Callable[[], Coroutine[Any, Any, V]]) -> V:
        task = self._running.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(fetch())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: str, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" warning
