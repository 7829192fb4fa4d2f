"""``LocalReplayCache``: first use only, markers expire, and a full cache fails closed."""

from __future__ import annotations

import pytest

from propusk.guard import LocalReplayCache


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_first_use_only_until_the_marker_expires() -> None:
    ticks = Ticks()
    cache = LocalReplayCache(clock=ticks)
    assert await cache.add("xds:k:1", 60) is True
    assert await cache.add("xds:k:1", 60) is False
    assert await cache.add("xds:k:2", 60) is True
    ticks.now += 59.9
    assert await cache.add("xds:k:1", 60) is False
    ticks.now += 0.1
    assert await cache.add("xds:k:1", 60) is True
    assert len(cache) == 1  # the other marker expired with it


async def test_a_full_cache_refuses_until_markers_expire() -> None:
    ticks = Ticks()
    cache = LocalReplayCache(3, clock=ticks)
    for i in range(3):
        assert await cache.add(f"m{i}", 10 + i)
    # Forgetting a live marker early would let a replay through: refuse instead.
    assert await cache.add("m3", 10) is False
    ticks.now += 10
    assert await cache.add("m3", 10) is True
    assert len(cache) == 3


async def test_a_ttl_under_a_second_still_remembers() -> None:
    ticks = Ticks()
    cache = LocalReplayCache(clock=ticks)
    assert await cache.add("m", 0)
    assert not await cache.add("m", 0)


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalReplayCache(0)
