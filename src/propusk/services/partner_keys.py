"""The verifiers' view of signing keys: enabled keys by id, login or terminal id, cached
per node for ``key_state_ttl`` seconds (forgotten at once on this node when a key changes),
the XML password check, and ``lastUsedAt`` kept in memory and written in batches.

:class:`~propusk.services.signing_keys.SigningKeys` is this plus the management use cases.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from propusk.config import Settings
from propusk.core import digital_sign
from propusk.core.changes import Changes
from propusk.core.networks import Network
from propusk.core.partner_identity import PartnerIdentity
from propusk.core.principals import AuthMethod, Principal
from propusk.services.clock import Clock
from propusk.services.last_used import LastUsed
from propusk.services.node_cache import MISS, Miss, NodeCache
from propusk.services.passwords import PasswordService
from propusk.storage.db import Database
from propusk.storage.models import SigningKey

__all__ = ["TERMINAL_ID", "PartnerDirectory", "PartnerKey"]

log = logging.getLogger("propusk.signing_keys")
TERMINAL_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class PartnerKey(PartnerIdentity):
    """An enabled key as verifiers see it (see docs/signing-keys.md)."""

    key_id: str
    org_id: str
    name: str
    public_key: digital_sign.PartnerPublicKey
    algorithms: frozenset[str]
    apps: frozenset[str] | None
    methods: frozenset[str]
    allowed_networks: tuple[Network, ...]  # empty = any address
    replay_window: int = 0  # seconds; 0 = no replay protection
    password_hash: str | None = field(default=None, repr=False, compare=False)
    kind: str = field(default="signing-key", init=False)
    # Principals by authenticator method: built from the frozen fields above, so one per
    # method serves every request while this cached key lives (Principal is frozen too).
    _principals: dict[AuthMethod, Principal] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )


class PartnerDirectory:
    """Lookups for verifiers (see docs/signing-keys.md), with a per-node cache.

    A mixin of :class:`~propusk.services.signing_keys.SigningKeys`: the dataclass that
    includes it holds the collaborators declared here, and its generated ``__init__``
    calls :meth:`__post_init__`, which sets up the cache and the lastUsedAt batches."""

    db: Database
    clock: Clock
    passwords: PasswordService
    settings: Settings
    changes: Changes

    def __post_init__(self) -> None:
        self._partners: NodeCache[tuple[str, str], PartnerKey | None] = NodeCache(
            self.settings.key_state_ttl
        )
        # Lookups are by three different names, so any change drops every entry.
        forget_all = self._partners.clear
        self.changes.on("signing-key", lambda _key_id: forget_all(), forget_all)
        self._used = LastUsed(self.db, self.clock, SigningKey.key_id, "signing keys", log)

    async def _partner(self, by: str, value: str) -> PartnerKey | None:
        return await self._partners.get_or_load((by, value), self._read_partner)

    async def _read_partner(self, by_value: tuple[str, str]) -> PartnerKey | Miss | None:
        by, value = by_value
        column = {
            "id": SigningKey.key_id,
            "login": SigningKey.login,
            "terminal": SigningKey.terminal_id,
        }[by]
        async with self.db.read() as session:
            row = await session.scalar(select(SigningKey).where(column == value))
        if row is None:
            # Not cached: made-up logins must not push out the partners that exist (a
            # disabled key is cached, as None).
            return MISS
        partner = None
        if row.status == "active":
            partner = PartnerKey(
                key_id=row.key_id,
                org_id=row.org_id,
                name=row.name,
                public_key=digital_sign.load_public_der(row.public_der),
                algorithms=frozenset(row.algorithms),
                apps=frozenset(row.apps),
                methods=frozenset(row.methods),
                allowed_networks=tuple(ipaddress.ip_network(n) for n in row.allowed_ips),
                replay_window=row.replay_window,
                password_hash=row.password_hash,
            )
        return partner

    async def partner_by_id(self, key_id: str) -> PartnerKey | None:
        if len(key_id) > 36 or _CONTROL.search(key_id):
            return None
        return await self._partner("id", key_id)

    async def partner_by_login(self, login: str) -> PartnerKey | None:
        # Registered logins have no control characters; a NUL from a header would also
        # make PostgreSQL refuse the query (a 500 instead of the 401 it deserves).
        if not 1 <= len(login) <= 128 or _CONTROL.search(login):
            return None
        return await self._partner("login", login)

    async def partner_by_terminal(self, terminal_id: str) -> PartnerKey | None:
        if TERMINAL_ID.fullmatch(terminal_id) is None:
            return None
        return await self._partner("terminal", terminal_id)

    async def check_password(self, partner: object, password: str) -> bool:
        """argon2id verify of ``partner`` (a PartnerKey or None); for an unknown partner or
        one without a password, a verify against a dummy hash, so it takes as long."""
        encoded = partner.password_hash if isinstance(partner, PartnerKey) else None
        if encoded is None:
            await self.passwords.dummy_verify(password)
            return False
        return await self.passwords.verify(encoded, password)

    # -- lastUsedAt, batched (see propusk.services.last_used) ------------------------------

    async def note_used(self, key_id: str) -> None:
        self._used.mark(key_id)

    async def flush(self) -> int:
        """Write the pending lastUsedAt values now; how many."""
        return await self._used.flush()

    async def close(self) -> None:
        await self._used.close()
