"""The server keyring: key material in the database, sealed with the master key.

This issue uses one purpose, ``access-signing`` (RS256 keys for account access tokens);
later purposes (JWE keys, the CA key, peppers) share the table and the sealing. Parsed key
objects are cached: parsing an RSA private key costs tens of milliseconds, so it happens
once per key per process, never per request.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from sqlalchemy import select

from propusk.config import ConfigError, Settings
from propusk.core import sealing
from propusk.core.errors import ServiceUnavailable
from propusk.core.keys import load_private_der, private_key_der, public_key_der, rsa_kid
from propusk.services.clock import Clock
from propusk.storage.db import Database
from propusk.storage.models import ServerKey

__all__ = ["ACCESS_SIGNING", "JWE", "Keyring", "load_master_key"]

ACCESS_SIGNING = "access-signing"
JWE = "jwe"
PEPPER = "api-key-pepper"
RESPONSE_SIGNING = "response-signing"  # RSA key that signs guarded responses (SHA256withRSA)
RSA_BITS = 2048
# How often a node re-reads the keyring so it learns of rotations made by another node,
# and the shortest gap between two re-reads forced by an unknown kid (a cheap DoS guard).
RELOAD_INTERVAL = 30.0
FORCED_RELOAD_GAP = 5.0


def load_master_key(settings: Settings, *, create: bool = False) -> bytes:
    """The master key from ``PROPUSK_MASTER_KEY`` or the key file.

    ``create`` makes a new key file (mode 0600) when none exists. Outside development a
    missing key is a configuration error: the server will not invent one and start.
    """
    if settings.master_key is not None:
        try:
            return sealing.decode_master_key(settings.master_key.get_secret_value())
        except ValueError as exc:
            raise ConfigError(f"PROPUSK_MASTER_KEY: {exc}") from None
    path = settings.effective_master_key_file
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and settings.mode != "development":
            raise ConfigError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
        try:
            return sealing.decode_master_key(path.read_text(encoding="ascii"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    if not create:
        raise ConfigError(
            f"no master key: set PROPUSK_MASTER_KEY, restore {path}, or for a new"
            " installation run `propusk init` to create it"
        )
    _write_key_file(path, secrets.token_bytes(sealing.MASTER_KEY_BYTES))
    return load_master_key(settings)


def _write_key_file(path: Path, key: bytes) -> None:
    import base64

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")


@dataclass(frozen=True)
class _Loaded:
    signing: RSAKey | None
    verifying: Mapping[str, RSAKey]
    public: Mapping[str, rsa.RSAPublicKey]
    jwe: Mapping[str, bytes]  # kid -> 32-byte key, every key that may still decrypt
    jwe_current: str | None  # the newest, which encrypts
    jwe_current_created: datetime | None
    pepper: bytes | None  # the HMAC key for managed API key digests


class Keyring:
    def __init__(
        self,
        db: Database,
        master_key: bytes,
        clock: Clock,
        *,
        jwe_rotation: timedelta = timedelta(days=1),
        jwe_token_ttl: timedelta = timedelta(seconds=900),
    ) -> None:
        # A JWE key encrypts for ``jwe_rotation``, then decrypts until the last token it
        # encrypted has expired (plus a margin for clock skew between nodes).
        self._jwe_rotation = jwe_rotation
        self._jwe_retention = jwe_rotation + jwe_token_ttl + timedelta(minutes=5)
        self._secret_cache: dict[str, bytes] = {}
        self._db = db
        self._master_key = master_key
        self._clock = clock
        self._loaded: _Loaded | None = None
        self._loaded_at = 0.0
        self._retry_at = 0.0  # no re-read before this (monotonic): the database was down
        self._private_cache: dict[str, RSAKey] = {}
        self._lock = asyncio.Lock()
        self._jwe_lock = asyncio.Lock()
        self._response_key: rsa.RSAPrivateKey | None = None

    def _context(self, kid: str) -> bytes:
        return f"server-key:{kid}".encode()

    def seal(self, kid: str, plaintext: bytes, nonce: bytes) -> bytes:
        """Seal key material for a ``server_keys`` row the caller writes itself (in its own
        unit of work, e.g. together with the CA certificate). Pure: no database access."""
        return sealing.seal(self._master_key, plaintext, nonce=nonce, context=self._context(kid))

    def unseal(self, kid: str, sealed: bytes) -> bytes:
        """Open what :meth:`seal` sealed for ``kid``. Pure: no database access."""
        return sealing.open_(self._master_key, sealed, context=self._context(kid))

    async def create_signing_key(self) -> str:
        """Add a new RS256 key and make it the active one; return its kid.

        Keys it replaces stop signing now and keep verifying until every token they signed
        has expired (``verify_until`` is set by :meth:`rotate_signing`).
        """
        key = await asyncio.to_thread(rsa.generate_private_key, 65537, RSA_BITS)
        kid = rsa_kid(key.public_key())
        await self._store(kid, ACCESS_SIGNING, "RS256", private_key_der(key), key.public_key())
        self._loaded = None
        return kid

    async def _store(
        self,
        kid: str,
        purpose: str,
        algorithm: str,
        secret: bytes,
        public: rsa.RSAPublicKey | None = None,
    ) -> None:
        """Seal ``secret`` (a private key's DER, or a symmetric key) with the master key
        and add it as the ``server_keys`` row ``kid``, in a unit of work of its own."""
        sealed = self.seal(kid, secret, secrets.token_bytes(sealing.NONCE_BYTES))
        async with self._db.session() as session:
            session.add(
                ServerKey(
                    kid=kid,
                    purpose=purpose,
                    algorithm=algorithm,
                    public_der=public_key_der(public) if public is not None else None,
                    sealed_private=sealed,
                    created_at=self._clock.now(),
                )
            )

    async def ensure_signing_key(self) -> str:
        """The active signing key's kid, creating the first key if there is none."""
        current = await self._active_row()
        if current is not None:
            return current.kid
        return await self.create_signing_key()

    async def rotate_signing(self, verify_for: timedelta) -> str:
        """Retire the active key(s) and add a new one; the old ones verify for ``verify_for``."""
        now = self._clock.now()
        async with self._db.session() as session:
            rows = await session.scalars(
                select(ServerKey).where(
                    ServerKey.purpose == ACCESS_SIGNING, ServerKey.retired_at.is_(None)
                )
            )
            for row in rows:
                row.retired_at = now
                row.verify_until = now + verify_for
        return await self.create_signing_key()

    async def _active_row(self) -> ServerKey | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(ServerKey)
                .where(ServerKey.purpose == ACCESS_SIGNING, ServerKey.retired_at.is_(None))
                .order_by(ServerKey.created_at.desc())
                .limit(1)
            )

    async def list_keys(self) -> list[dict[str, Any]]:
        async with self._db.read() as session:
            rows = await session.scalars(select(ServerKey).order_by(ServerKey.created_at))
            return [
                {
                    "kid": r.kid,
                    "purpose": r.purpose,
                    "algorithm": r.algorithm,
                    "created_at": r.created_at,
                    "retired_at": r.retired_at,
                    "verify_until": r.verify_until,
                }
                for r in rows
            ]

    async def _load(self) -> _Loaded:
        now = self._clock.now()
        async with self._db.read() as session:
            rows = list(
                await session.scalars(
                    select(ServerKey)
                    .where(ServerKey.purpose.in_((ACCESS_SIGNING, JWE, PEPPER)))
                    .order_by(ServerKey.created_at, ServerKey.kid)
                )
            )
        verifying: dict[str, RSAKey] = {}
        public: dict[str, rsa.RSAPublicKey] = {}
        signing: RSAKey | None = None
        jwe: dict[str, bytes] = {}
        jwe_current: ServerKey | None = None
        pepper: bytes | None = None
        for row in rows:
            if row.purpose == PEPPER:
                # The oldest pepper: digests made with it must keep matching.
                pepper = pepper or self.unseal(row.kid, row.sealed_private)
                continue
            if row.purpose == JWE:
                if row.created_at <= now - self._jwe_retention:
                    continue
                secret = self._secret_cache.get(row.kid)
                if secret is None:
                    secret = self.unseal(row.kid, row.sealed_private)
                    self._secret_cache[row.kid] = secret
                jwe[row.kid] = secret
                jwe_current = row  # oldest first: the last one is the newest
                continue
            if row.verify_until is not None and row.verify_until <= now:
                continue
            jwk = self._private_cache.get(row.kid)
            if jwk is None:
                der = self.unseal(row.kid, row.sealed_private)
                private = load_private_der(der)
                jwk = RSAKey.import_key(private, {"kid": row.kid, "alg": "RS256", "use": "sig"})
                self._private_cache[row.kid] = jwk
            pub = jwk.get_op_key("verify")
            assert isinstance(pub, rsa.RSAPublicKey)
            public[row.kid] = pub
            verifying[row.kid] = RSAKey.import_key(
                pub, {"kid": row.kid, "alg": "RS256", "use": "sig"}
            )
            if row.retired_at is None:
                signing = jwk  # rows are oldest first, so the newest active key wins
        return _Loaded(
            signing=signing,
            verifying=verifying,
            public=public,
            jwe=jwe,
            jwe_current=jwe_current.kid if jwe_current else None,
            jwe_current_created=jwe_current.created_at if jwe_current else None,
            pepper=pepper,
        )

    def _due(self, force: bool) -> bool:
        """Whether the cached view must be re-read now (see :meth:`_current`)."""
        if self._loaded is None:
            return True
        now = time.monotonic()
        if now < self._retry_at:
            return False
        age = now - self._loaded_at
        return age > RELOAD_INTERVAL or (force and age > FORCED_RELOAD_GAP)

    async def _current(self, *, force: bool = False) -> _Loaded:
        """The cached view of the keyring, re-read every ``RELOAD_INTERVAL`` seconds.

        When a re-read finds the database unreachable, the view read last keeps serving
        (tokens keep verifying through an outage: the keys change only by rotation, which
        needs the database too) and the next re-read waits ``FORCED_RELOAD_GAP`` seconds,
        so an outage costs one failed read per gap, not one per request. Keys that a
        rotation retires meanwhile (``verify_until``) keep verifying until the database is
        back. With no view at all (a process that started during the outage) the outage
        is the caller's: a 503."""
        if self._due(force):
            async with self._lock:
                if self._due(force):
                    try:
                        loaded = await self._load()
                    except ServiceUnavailable:
                        if self._loaded is None:
                            raise
                        self._retry_at = time.monotonic() + FORCED_RELOAD_GAP
                    else:
                        self._loaded, self._loaded_at = loaded, time.monotonic()
                        self._retry_at = 0.0
        assert self._loaded is not None
        return self._loaded

    async def signing_key(self) -> RSAKey:
        loaded = await self._current()
        if loaded.signing is None:
            raise ConfigError("the keyring has no signing key: run `propusk init`")
        return loaded.signing

    async def verification_keys(self, *, unknown_kid: bool = False) -> Mapping[str, RSAKey]:
        """Public keys by kid. ``unknown_kid`` asks for a re-read (rate limited)."""
        return (await self._current(force=unknown_kid)).verifying

    async def jwks(self) -> dict[str, Any]:
        """RFC 7517 key set of every key that still verifies (public parts only)."""
        loaded = await self._current()
        return {"keys": [k.as_dict(private=False) for k in loaded.verifying.values()]}

    async def active_public_key(self) -> rsa.RSAPublicKey:
        key = await self.signing_key()
        assert key.kid is not None
        return (await self._current()).public[key.kid]

    # -- JWE keys for service-key tokens ---------------------------------------------------

    async def create_jwe_key(self) -> str:
        """Add a new AES-256-GCM key for service tokens; it encrypts from now on."""
        kid = f"jwe-{secrets.token_hex(8)}"
        await self._add_secret(JWE, "A256GCM", kid)
        return kid

    async def jwe_encryption_key(self) -> tuple[str, bytes]:
        """The kid and key that encrypt new service tokens; a new key is made when there is
        none or the newest is older than the rotation period. Call it outside any unit of
        work (it may write, see Sessions._issue)."""
        loaded = await self._current()
        if self._jwe_due(loaded):
            async with self._jwe_lock:  # one new key per node, not one per waiting request
                loaded = await self._current()
                if self._jwe_due(loaded):
                    await self.create_jwe_key()
                    loaded = await self._current()
        assert loaded.jwe_current is not None
        return loaded.jwe_current, loaded.jwe[loaded.jwe_current]

    def _jwe_due(self, loaded: _Loaded) -> bool:
        created = loaded.jwe_current_created
        return loaded.jwe_current is None or (
            created is not None and created <= self._clock.now() - self._jwe_rotation
        )

    async def jwe_decryption_keys(self, *, unknown_kid: bool = False) -> Mapping[str, bytes]:
        """Every JWE key that may still decrypt a live token, by kid."""
        return (await self._current(force=unknown_kid)).jwe

    # -- the API-key pepper -----------------------------------------------------------------

    async def api_key_pepper(self) -> bytes:
        """The HMAC key managed API keys are hashed with. It lives in the keyring (sealed
        with the master key), not beside the digests, so a copy of the database alone does
        not allow guessing keys offline. Made on first use; call outside a unit of work."""
        loaded = await self._current()
        if loaded.pepper is None:
            async with self._jwe_lock:
                loaded = await self._current()
                if loaded.pepper is None:
                    await self._add_secret(PEPPER, "HMAC-SHA256", f"pepper-{secrets.token_hex(8)}")
                    loaded = await self._current()
        assert loaded.pepper is not None
        return loaded.pepper

    async def _add_secret(self, purpose: str, algorithm: str, kid: str) -> None:
        await self._store(kid, purpose, algorithm, secrets.token_bytes(32))
        self._loaded = None

    # -- the response-signing key (docs/signing-keys.md) ------------------------------------

    async def response_signing_key(self) -> rsa.RSAPrivateKey:
        """The RSA-2048 key that signs guarded responses, made on first use. Every node uses
        the oldest such key, so nodes that raced to create one agree after the race."""
        if self._response_key is not None:
            return self._response_key
        async with self._jwe_lock:
            if self._response_key is None:
                row = await self._oldest(RESPONSE_SIGNING)
                if row is None:
                    key = await asyncio.to_thread(rsa.generate_private_key, 65537, RSA_BITS)
                    kid = f"response-{rsa_kid(key.public_key())}"
                    der = private_key_der(key)
                    await self._store(kid, RESPONSE_SIGNING, "SHA256withRSA", der, key.public_key())
                    row = await self._oldest(RESPONSE_SIGNING)
                assert row is not None
                self._response_key = load_private_der(self.unseal(row.kid, row.sealed_private))
        return self._response_key

    async def _oldest(self, purpose: str) -> ServerKey | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(ServerKey)
                .where(ServerKey.purpose == purpose)
                .order_by(ServerKey.created_at, ServerKey.kid)
                .limit(1)
            )

    def forget(self) -> None:
        """Drop the cached view so the next call re-reads the database."""
        self._loaded = None
