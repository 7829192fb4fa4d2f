"""The per-node state cache the request path reads (services/node_cache.py)."""

from __future__ import annotations

import asyncio

from propusk.services.node_cache import MISS, Miss, NodeCache


def test_fresh_entries_then_miss_after_ttl() -> None:
    cache: NodeCache[str, int | None] = NodeCache(60)
    assert cache.get("a") is MISS
    cache.put("a", 1)
    cache.put("gone", None)  # a cached None means "known absent", not a miss
    assert (cache.get("a"), cache.get("gone")) == (1, None)
    cache.forget("a")
    assert cache.get("a") is MISS
    cache.clear()
    assert len(cache) == 0
    stale: NodeCache[str, int] = NodeCache(0)
    stale.put("a", 1)
    assert stale.get("a") is MISS  # older than ttl: read again


def test_a_full_cache_drops_its_oldest_entries() -> None:
    one: NodeCache[int, int] = NodeCache(60, max_entries=4)
    half: NodeCache[int, int] = NodeCache(60, max_entries=4, evict=2)
    for n in range(5):
        one.put(n, n)
        half.put(n, n)
    assert [k for k in range(5) if one.get(k) is not MISS] == [1, 2, 3, 4]
    assert [k for k in range(5) if half.get(k) is not MISS] == [2, 3, 4]


async def test_get_or_load_reads_once_and_never_caches_a_miss() -> None:
    reads: list[str] = []

    async def load(key: str) -> int | Miss:
        reads.append(key)
        return MISS if key == "unknown" else len(key)

    cache: NodeCache[str, int] = NodeCache(60)
    assert await cache.get_or_load("abc", load) == 3
    assert await cache.get_or_load("abc", load) == 3
    assert await cache.get_or_load("unknown", load) is None
    assert await cache.get_or_load("unknown", load) is None
    assert reads == ["abc", "unknown", "unknown"]
    assert len(cache) == 1


async def test_a_read_under_way_when_its_entry_is_forgotten_is_not_cached() -> None:
    # Node B reads a key's state while node A commits a change and announces it: the
    # read may have seen the old state, so it must not stay cached for the whole TTL.
    reading, announced = asyncio.Event(), asyncio.Event()
    state = {"k": "active"}

    async def load(key: str) -> str:
        value = state[key]
        reading.set()
        await announced.wait()  # the change and its announcement land mid-read
        return value

    cache: NodeCache[str, str] = NodeCache(300)
    read = asyncio.create_task(cache.get_or_load("k", load))
    await reading.wait()
    state["k"] = "disabled"
    cache.forget("k")
    announced.set()
    assert await read == "active"  # this one caller got what was true when it asked
    assert cache.get("k") is MISS  # but the next one reads again
    assert await cache.get_or_load("k", load) == "disabled"
