"""The Redis relay of credential changes, against a private redis-server
(tests/integration/private_services.py: the tests stop and restart it, so they do not use
the shared one)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from propusk.core.changes import Changes, Topic
from propusk.storage.relay import RedisRelay
from tests.integration.private_services import PrivateRedis

pytestmark = pytest.mark.external
DEADLINE = 5.0  # seconds a wait may take before the test fails (not a timing assertion)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with PrivateRedis.create(tmp_path) as server:
        yield server


@dataclass
class Node:
    changes: Changes
    relay: RedisRelay
    forgotten: list[tuple[Topic, str]] = field(default_factory=list)
    cleared: int = 0


@pytest.fixture
async def nodes(redis_server: PrivateRedis) -> AsyncIterator[list[Node]]:
    made: list[Node] = []
    for _ in range(2):
        changes = Changes()
        relay = RedisRelay.from_url(redis_server.url, changes, retry=0.05)
        changes.relay = relay
        node = Node(changes, relay)
        for topic in ("api-key", "service-key"):

            def forget(key: str, node: Node = node, topic: Topic = topic) -> None:
                node.forgotten.append((topic, key))

            def clear(node: Node = node) -> None:
                node.cleared += 1

            changes.on(topic, forget, clear)
        await relay.start()
        made.append(node)
    for node in made:
        await asyncio.wait_for(node.relay.subscribed.wait(), DEADLINE)
    yield made
    for node in made:
        await node.relay.close()


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("not delivered")
        await asyncio.sleep(0.01)


async def test_a_change_reaches_the_other_process(nodes: list[Node]) -> None:
    a, b = nodes
    a.changes.changed("api-key", "0123456789abcdef")
    assert a.forgotten == [("api-key", "0123456789abcdef")]  # this process: at once
    await _until(lambda: ("api-key", "0123456789abcdef") in b.forgotten)
    b.changes.changed("service-key", "k2")
    await _until(lambda: ("service-key", "k2") in a.forgotten)


async def test_the_first_subscription_clears_what_was_cached_before_it(
    nodes: list[Node],
) -> None:
    # Requests may fill a process's caches before its subscription is live, and a change
    # announced then is not heard: so subscribing clears them, the first time too.
    # One clear each, heard by the handlers of both topics.
    assert [node.cleared for node in nodes] == [2, 2]


async def test_garbage_on_the_channel_is_ignored(nodes: list[Node]) -> None:
    a, b = nodes
    client = a.relay._redis
    for junk in (b"", b"nonsense", b"api-key", b"no-such-topic k", b"api-key " + b"x" * 300):
        await client.publish("propusk:changes", junk)
    a.changes.changed("api-key", "after-junk")
    await _until(lambda: ("api-key", "after-junk") in b.forgotten)
    assert b.forgotten == [("api-key", "after-junk")]


async def test_after_an_outage_every_cache_is_cleared(
    nodes: list[Node], redis_server: PrivateRedis
) -> None:
    a, b = nodes
    redis_server.stop()
    a.changes.changed("api-key", "said-while-away")  # lost: nobody to carry it
    assert ("api-key", "said-while-away") in a.forgotten
    await _until(lambda: not b.relay.subscribed.is_set())
    redis_server.start()
    await asyncio.wait_for(b.relay.subscribed.wait(), DEADLINE)
    assert b.cleared >= 1  # it may have missed announcements: it forgot everything
    a.changes.changed("api-key", "after")
    await _until(lambda: ("api-key", "after") in b.forgotten)
