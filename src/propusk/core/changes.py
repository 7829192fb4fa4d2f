"""Credential changes, announced to every process that caches credential state.

The request path reads credential state (API-key records, service-key generations, signing
keys, certificate states) from per-process caches (:mod:`propusk.services.node_cache`).
When a key is disabled, rotated, revoked or deleted, the process that made the change
announces it here; every subscriber in this process forgets the entry at once, and a
relay (Redis pub/sub, :mod:`propusk.storage.relay`) carries the announcement to every
other process and node, which forget it within milliseconds. The caches' TTL
(``key_state_ttl``) stays as the bound when a message is lost; after a gap in the relay
every cache is cleared, since messages may have been missed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, get_args

__all__ = ["TOPICS", "Changes", "Relay", "Topic", "topic_of"]

Topic = Literal["account", "api-key", "service-key", "signing-key", "certificate"]
TOPICS: tuple[Topic, ...] = get_args(Topic)


def topic_of(text: str) -> Topic | None:
    """The topic named ``text`` (from the wire), or None."""
    for topic in TOPICS:
        if text == topic:
            return topic
    return None


class Relay(Protocol):
    """Carries announcements to the other processes (fire and forget)."""

    def publish(self, topic: Topic, key: str) -> None: ...


class Changes:
    """The announcements of one process: handlers by topic, and an optional relay."""

    def __init__(self) -> None:
        self._forget: dict[Topic, list[Callable[[str], None]]] = {}
        self._clear: list[Callable[[], None]] = []
        self.relay: Relay | None = None

    def on(self, topic: Topic, forget: Callable[[str], None], clear: Callable[[], None]) -> None:
        """Call ``forget(key)`` when ``topic``'s ``key`` changes, ``clear()`` after a gap."""
        self._forget.setdefault(topic, []).append(forget)
        self._clear.append(clear)

    def changed(self, topic: Topic, key: str) -> None:
        """``key`` changed here: forget it in this process now, and tell the others."""
        self.received(topic, key)
        if self.relay is not None:
            self.relay.publish(topic, key)

    def received(self, topic: Topic, key: str) -> None:
        """An announcement (from this process or from the relay)."""
        for forget in self._forget.get(topic, ()):
            forget(key)

    def clear(self) -> None:
        """Forget everything: announcements may have been missed (the relay was away)."""
        for clear in self._clear:
            clear()
