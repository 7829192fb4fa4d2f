"""Both cache backends give the same answers (Redis runs where reachable; in CI it must)."""

from __future__ import annotations

import pytest

from propusk.storage.cache import Cache, MemoryCache


async def test_incr_counts_and_reports_ttl(any_cache: Cache) -> None:
    assert await any_cache.peek("c") == (0, 0)
    assert (await any_cache.incr("c", 60))[0] == 1
    count, left = await any_cache.incr("c", 60)
    assert count == 2 and 1 <= left <= 60
    assert (await any_cache.peek("c"))[0] == 2


async def test_add_is_first_use_only(any_cache: Cache) -> None:
    assert await any_cache.add("nonce", 60) is True
    assert await any_cache.add("nonce", 60) is False
    await any_cache.delete("nonce")
    assert await any_cache.add("nonce", 60) is True


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_memory_cache_expires() -> None:
    clock = FakeMonotonic()
    cache = MemoryCache(clock=clock)
    await cache.incr("c", 10)
    assert await cache.peek("c") == (1, 10)
    clock.t += 10
    assert await cache.peek("c") == (0, 0)
    assert await cache.add("k", 5) is True
    clock.t += 6
    assert await cache.add("k", 5) is True


@pytest.mark.parametrize("size", [3, 10])
async def test_memory_cache_is_bounded_per_namespace(size: int) -> None:
    clock = FakeMonotonic()
    cache = MemoryCache(max_entries=size, clock=clock)
    for i in range(size):
        assert await cache.add(f"replay:{i}", 60)
    # Flooding another namespace evicts only its own oldest counters...
    for i in range(size * 5):
        await cache.incr(f"mail:{i}", 3600)
    assert all(len(space) <= size for space in cache._spaces.values())
    assert await cache.peek(f"mail:{size * 5 - 1}") == (1, 3600)
    assert await cache.peek("mail:0") == (0, 0)
    # ...and never a replay marker: a full marker namespace refuses new markers instead.
    for i in range(size):
        assert await cache.add(f"replay:{i}", 60) is False
    assert await cache.add("replay:new", 60) is False
    clock.t += 61  # once they expire there is room again
    assert await cache.add("replay:new", 60) is True
