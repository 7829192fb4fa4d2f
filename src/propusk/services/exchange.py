"""The service-key exchange (spec §1): a signed ``keyId + timestamp`` becomes a 900-second
JWE token, and the token, sent back as ``Public-Token``, becomes a Principal.

Revocation: a token carries its key's *generation*. Rotating, disabling, re-scoping or
deleting a key changes (or removes) the generation, so its earlier tokens fail. The node
that made the change forgets its cached key state at once; other nodes re-read a key's
state when their cached copy is older than ``key_state_ttl`` (5 s by default). That bounds
how long a revoked token can still pass anywhere, at the cost of one primary-key read per
key per node every few seconds.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update

from propusk.config import Settings
from propusk.core.assertions import (
    decode_signature,
    parse_timestamp,
    verify_exchange_signature,
    within_window,
)
from propusk.core.errors import InvalidSignature, InvalidToken, PropuskError
from propusk.core.principals import Principal
from propusk.core.service_tokens import ServiceTokenDecryptor, issue_service_token
from propusk.core.tokens import UnknownKeyId
from propusk.services.audit import Origin
from propusk.services.base import UseCase
from propusk.services.keyring import Keyring
from propusk.services.node_cache import MAX_ENTRIES, NodeCache
from propusk.storage.cache import Cache
from propusk.storage.models import ServiceKey

__all__ = ["Exchange", "ExchangeRefused", "Grant", "TimestampOutOfRange", "server_time"]

MAX_KEY_ID = 64
MAX_AUDITED_FAILURES_PER_MINUTE = 10
MAX_STATE_ENTRIES = MAX_ENTRIES
# last_used_at is written at most this often per key: not one database write per exchange.
LAST_USED_RESOLUTION = 60.0


class TimestampOutOfRange(PropuskError):
    code = "timestamp_out_of_range"
    status = 400
    message = "Range timestamp not valid"  # the original service's exact words


class ExchangeRefused(InvalidSignature):
    """Unknown, disabled or deleted key, bad signature, or a replay: one answer for all."""

    message = "The key or the signature is not valid"


# What a token is checked against: its key's org, status and generation.
@dataclass(frozen=True)
class _State:
    org_id: str
    status: str
    generation: int


@dataclass(frozen=True)
class Grant:
    """A service token (compact JWE) and its lifetime in seconds."""

    jwe: str
    ttl: int


@dataclass(eq=False, repr=False)
class Exchange(UseCase):
    """Signed key ids for service tokens (the exchange), and those tokens back into
    Principals, checked against each key's current state (see the module docstring)."""

    keyring: Keyring
    cache: Cache
    settings: Settings

    def __post_init__(self) -> None:
        self._states: NodeCache[str, _State | None] = NodeCache(
            self.settings.key_state_ttl, evict=MAX_STATE_ENTRIES // 2
        )
        self._decryptor: tuple[object, ServiceTokenDecryptor] | None = None
        self.changes.on("service-key", self._states.forget, self._states.clear)

    # -- the exchange -------------------------------------------------------------------

    async def exchange(
        self,
        key_id: str,
        timestamp: str,
        signature: str,
        origin: Origin,
        *,
        cert_thumbprint: str | None = None,
    ) -> Grant:
        """Exchange a signed ``keyId + timestamp`` for a token; with ``cert_thumbprint``
        the token is bound to that client certificate (RFC 8705)."""
        now = self.clock.now()
        sent = parse_timestamp(timestamp)
        if not within_window(sent, now, self.settings.exchange_window):
            raise TimestampOutOfRange(detail=f"{timestamp!r} vs server {now.isoformat()}")
        raw_signature = decode_signature(signature)
        if not 1 <= len(key_id) <= MAX_KEY_ID:
            raise ExchangeRefused(detail="key id length")
        async with self.db.read() as session:
            row = await session.get(ServiceKey, key_id)
        if row is None:
            raise ExchangeRefused(detail="unknown key id")
        if row.status != "active":
            await self._refused(row, origin, "disabled")
        if not self._signature_ok(row, now, key_id, timestamp, raw_signature):
            await self._refused(row, origin, "bad_signature")
        # The source service has no nonce, so a captured body could be replayed inside the
        # window; Propusk accepts each signature once (across nodes when Redis is set).
        fingerprint = hashlib.sha256(raw_signature).hexdigest()
        if not await self.cache.add(
            f"exchange:{fingerprint}", 2 * self.settings.exchange_window + 5
        ):
            await self._refused(row, origin, "replay")
        kid, key = await self.keyring.jwe_encryption_key()
        token = issue_service_token(
            key,
            kid,
            key_id=row.key_id,
            org_id=row.org_id,
            apps=row.apps,
            methods=row.methods,
            issuer=self.settings.issuer,
            issued_at=int(now.timestamp()),
            ttl=self.settings.service_token_ttl,
            jti=str(uuid.uuid4()),
            generation=row.generation,
            iv=secrets.token_bytes(12),
            cert_thumbprint=cert_thumbprint,
        )
        await self._mark_used(row, now, origin)
        return Grant(token, self.settings.service_token_ttl)

    def _signature_ok(
        self, row: ServiceKey, now: datetime, key_id: str, timestamp: str, signature: bytes
    ) -> bool:
        candidates = [row.public_der]
        if row.previous_public_der and row.previous_valid_until and now < row.previous_valid_until:
            candidates.append(row.previous_public_der)  # the grace period after a rotation
        for der in candidates:
            public = serialization.load_der_public_key(der)
            assert isinstance(public, rsa.RSAPublicKey)
            if verify_exchange_signature(public, key_id, timestamp, signature):
                return True
        return False

    async def _refused(self, row: ServiceKey, origin: Origin, reason: str) -> None:
        # Key ids are public, so anyone can cause refusals; audit at most a few a minute per
        # key so the audit table cannot be flooded (the log still gets each one at INFO).
        count, _ = await self.cache.incr(f"exchange-fail:{row.key_id}", 60)
        if count > MAX_AUDITED_FAILURES_PER_MINUTE:
            raise ExchangeRefused(detail=reason)
        await self.audit.record(
            "service_key.exchange",
            actor_type="service_key",
            actor_id=row.key_id,
            origin=origin,
            outcome="fail",
            org_id=row.org_id,
            target_type="service_key",
            target_id=row.key_id,
            data={"reason": reason},
        )
        raise ExchangeRefused(detail=reason)

    async def _mark_used(self, row: ServiceKey, now: datetime, origin: Origin) -> None:
        first = row.last_used_at is None or (
            row.rotated_at is not None and row.last_used_at < row.rotated_at
        )
        stale = row.last_used_at is None or (
            (now - row.last_used_at).total_seconds() >= LAST_USED_RESOLUTION
        )
        if not (first or stale):
            return
        async with self.db.session() as session:
            await session.execute(
                update(ServiceKey).where(ServiceKey.key_id == row.key_id).values(last_used_at=now)
            )
            if first:
                self.audit.add(
                    session,
                    "service_key.first_used",
                    actor_type="service_key",
                    actor_id=row.key_id,
                    origin=origin,
                    org_id=row.org_id,
                    target_type="service_key",
                    target_id=row.key_id,
                )

    # -- tokens back in: the Public-Token authenticator's verifier ------------------------

    async def _decryptor_for(self, *, unknown_kid: bool = False) -> ServiceTokenDecryptor:
        keys = await self.keyring.jwe_decryption_keys(unknown_kid=unknown_kid)
        cached = self._decryptor
        if cached is None or cached[0] is not keys:
            # One decryptor (with its AES-GCM objects) per keyring view, not per request.
            cached = (keys, ServiceTokenDecryptor(keys, issuer=self.settings.issuer))
            self._decryptor = cached
        return cached[1]

    async def verify(self, token: str) -> Principal:
        now = int(self.clock.now().timestamp())
        try:
            claims = (await self._decryptor_for()).decrypt(token, now=now)
        except UnknownKeyId:
            claims = (await self._decryptor_for(unknown_kid=True)).decrypt(token, now=now)
        state = await self._state(claims.key_id)
        if state is None:
            raise InvalidToken(detail="the key no longer exists")
        if state.status != "active" or state.generation != claims.generation:
            raise InvalidToken(detail="the key was disabled, rotated or re-scoped")
        if state.org_id != claims.org_id:
            raise InvalidToken(detail="org mismatch")
        return claims.principal()

    async def _state(self, key_id: str) -> _State | None:
        return await self._states.get_or_load(key_id, self._read_state)

    async def _read_state(self, key_id: str) -> _State | None:
        async with self.db.read() as session:
            row = await session.get(ServiceKey, key_id)
        return None if row is None else _State(row.org_id, row.status, row.generation)

    def invalidate(self, key_id: str) -> None:
        """Forget a key's cached state (this node changed it)."""
        self._states.forget(key_id)


def server_time(now: datetime) -> str:
    """The envelope's ``timestamp``: ISO-8601 with offset and milliseconds."""
    return now.astimezone(UTC).isoformat(timespec="milliseconds")
