"""The Redis relay of credential changes (:mod:`propusk.core.changes`): publishes this
process's announcements on one channel and hands every announcement it hears, from any
process or node, to the local :class:`~propusk.core.changes.Changes`.

Delivery is best effort, so the caches' TTL remains the bound: a failed publish is
logged (once per outage); when the subscription drops, it is re-established with back-off
and every local cache is cleared, because announcements may have been missed meanwhile
(and once the first subscription is live, for what was cached before it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis

from propusk.core.changes import Changes, Topic, topic_of
from propusk.storage.faults import Outage, is_cache_outage

__all__ = ["CHANNEL", "RedisRelay"]

log = logging.getLogger("propusk.changes")
CHANNEL = "propusk:changes"
MAX_KEY = 256


class RedisRelay:
    """Publish and subscribe on :data:`CHANNEL`; :meth:`start` in the app's lifespan."""

    def __init__(self, client: Redis, changes: Changes, *, retry: float = 1.0) -> None:
        self._redis = client
        self._changes = changes
        self._retry = retry
        self._outage = Outage("redis (changes)")
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()

    @classmethod
    def from_url(cls, url: str, changes: Changes, *, retry: float = 1.0) -> RedisRelay:
        return cls(Redis.from_url(url), changes, retry=retry)

    def publish(self, topic: Topic, key: str) -> None:
        task = asyncio.get_running_loop().create_task(self._send(f"{topic} {key}"))
        self._sending.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._sending.discard)

    async def _send(self, message: str) -> None:
        try:
            await self._redis.publish(CHANNEL, message)
        except Exception as exc:
            if not is_cache_outage(exc):
                raise
            self._outage.failed(exc)  # logged once; the other nodes fall back to the TTL
        else:
            self._outage.ok()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    # What was said while we were not listening is lost: after an outage,
                    # and at start too, where requests may have filled the caches before
                    # the subscription was live.
                    self._changes.clear()
                    self._outage.ok()
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        self._deliver(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_cache_outage(exc):
                    log.exception("changes relay failed; resubscribing")
                else:
                    self._outage.failed(exc)
                self.subscribed.clear()
                await asyncio.sleep(self._retry)

    def _deliver(self, data: object) -> None:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        name, _, key = text.partition(" ")
        topic = topic_of(name)
        if topic is not None and key and len(key) <= MAX_KEY:
            self._changes.received(topic, key)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await self._redis.aclose()
