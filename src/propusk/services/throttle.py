"""Brute-force limits: failed logins, account look-ups and mails, each per account (or
address) and per source address."""

from __future__ import annotations

import hashlib

from propusk.core.errors import TooManyAttempts
from propusk.storage.cache import Cache

__all__ = ["LoginThrottle", "LookupThrottle", "MailThrottle"]


def _key(kind: str, value: str) -> str:
    # Hashed so cache keys have a bounded size and do not spell out e-mail addresses.
    # The kind is the cache namespace (see MemoryCache), so kinds cannot push each other out.
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


class _Window:
    """Counters in the shared cache over a fixed window of ``window`` seconds, with a limit
    per source address beside the limit per account or mailbox."""

    def __init__(self, cache: Cache, per_ip: int, window: int) -> None:
        self._cache = cache
        self._per_ip = per_ip
        self._window = window


class LoginThrottle(_Window):
    """Counts failures in a fixed window; at the limit every attempt is refused until the
    window ends — even with the right password, so guessing cannot go on in parallel."""

    def __init__(self, cache: Cache, *, per_account: int, per_ip: int, window: int) -> None:
        super().__init__(cache, per_ip, window)
        self._per_account = per_account

    async def check(self, account: str, ip: str | None) -> None:
        count, left = await self._cache.peek(_key("login-account", account.lower()))
        if count >= self._per_account:
            raise TooManyAttempts(left)
        if ip:
            count, left = await self._cache.peek(_key("login-ip", ip))
            if count >= self._per_ip:
                raise TooManyAttempts(left)

    async def failed(self, account: str, ip: str | None) -> None:
        await self._cache.incr(_key("login-account", account.lower()), self._window)
        if ip:
            await self._cache.incr(_key("login-ip", ip), self._window)

    async def succeeded(self, account: str) -> None:
        await self._cache.delete(_key("login-account", account.lower()))


class MailThrottle(_Window):
    """Caps the mails a caller can make Propusk send (confirmation again, password reset),
    per address and per source address, so nobody can flood someone's inbox through us.
    Over the cap the request still answers as usual but sends nothing: the answer must not
    tell anything about the account either way."""

    def __init__(self, cache: Cache, *, per_address: int, per_ip: int, window: int) -> None:
        super().__init__(cache, per_ip, window)
        self._per_address = per_address

    async def allow(self, address: str, ip: str | None) -> bool:
        # The source address first: a flood from one address stops here without making a
        # counter for every e-mail address it names.
        if ip:
            count, _ = await self._cache.incr(_key("mail-ip", ip), self._window)
            if count > self._per_ip:
                return False
        count, _ = await self._cache.incr(_key("mail", address.lower()), self._window)
        return count <= self._per_address


class LookupThrottle(_Window):
    """Caps the look-ups of ``GET /v1/user/address/exists``, per e-mail address and per
    source address, as logins are capped: every answer tells whether an account exists,
    so each look-up counts (not only failures), and beyond a cap the look-up is refused
    with 429 + Retry-After until the window ends."""

    def __init__(self, cache: Cache, *, per_address: int, per_ip: int, window: int) -> None:
        super().__init__(cache, per_ip, window)
        self._per_address = per_address

    async def check(self, address: str, ip: str | None) -> None:
        # The source address first: a sweep of many addresses from one client stops here
        # without making a counter for every address it names.
        if ip:
            count, left = await self._cache.incr(_key("lookup-ip", ip), self._window)
            if count > self._per_ip:
                raise TooManyAttempts(left)
        count, left = await self._cache.incr(_key("lookup", address.lower()), self._window)
        if count > self._per_address:
            raise TooManyAttempts(left)
