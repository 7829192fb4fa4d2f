"""Password hashing off the event loop, with bounded parallelism.

argon2id at OWASP parameters costs ~19 MiB and tens of milliseconds per call; running it
on the event loop would stall every other request, and running unbounded numbers at once
would let a burst of logins exhaust memory. A semaphore caps concurrent hashes.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from propusk.core.passwords import SALT_BYTES, PasswordPolicy

__all__ = ["PasswordService"]


class PasswordService:
    def __init__(self, policy: PasswordPolicy, *, max_parallel: int | None = None) -> None:
        self.policy = policy
        self._gate = asyncio.Semaphore(max_parallel or max(2, os.cpu_count() or 2))
        # A real hash of a random password: verifying against it costs what a real verify
        # costs, so "no such account" takes as long as "wrong password".
        self._dummy = policy.hash(secrets.token_urlsafe(24), secrets.token_bytes(SALT_BYTES))

    async def hash(self, password: str) -> str:
        self.policy.check(password)  # fail fast, before queueing for a hashing slot
        async with self._gate:
            return await asyncio.to_thread(
                self.policy.hash, password, secrets.token_bytes(SALT_BYTES)
            )

    async def verify(self, encoded: str | None, password: str) -> bool:
        async with self._gate:
            return await asyncio.to_thread(self.policy.verify, encoded or self._dummy, password)

    async def dummy_verify(self, password: str) -> None:
        await self.verify(None, password)

    def needs_rehash(self, encoded: str) -> bool:
        return self.policy.needs_rehash(encoded)
