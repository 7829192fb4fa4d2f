from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from propusk.config import ConfigError, load_settings
from propusk.core.keys import private_key_der
from propusk.core.sealing import SealError
from propusk.services.keyring import Keyring, load_master_key
from propusk.storage.models import ServerKey
from propusk.wiring import Services
from tests.support import ManualClock


async def test_rotation_keeps_old_key_verifying_until_its_tokens_expire(
    services: Services, clock: ManualClock
) -> None:
    keyring = services.keyring
    old = await keyring.signing_key()
    new_kid = await keyring.rotate_signing(timedelta(seconds=960))
    keyring.forget()
    assert (await keyring.signing_key()).kid == new_kid != old.kid
    assert set(await keyring.verification_keys()) >= {old.kid, new_kid}
    jwks = await keyring.jwks()
    assert {k["kid"] for k in jwks["keys"]} >= {old.kid, new_kid}
    assert all("d" not in k and k["kty"] == "RSA" for k in jwks["keys"])
    clock.advance(961)
    keyring.forget()
    assert old.kid not in await keyring.verification_keys()


async def test_private_keys_are_sealed_at_rest(services: Services) -> None:
    key = await services.keyring.signing_key()
    private = key.private_key
    assert private is not None
    assert isinstance(private, rsa.RSAPrivateKey)
    der = private_key_der(private)
    async with services.db.session() as session:
        rows = list(await session.scalars(select(ServerKey)))
    assert rows
    for row in rows:
        assert der not in row.sealed_private
        assert der[40:80] not in row.sealed_private


async def test_wrong_master_key_cannot_open_the_keyring(services: Services) -> None:
    other = Keyring(services.db, secrets.token_bytes(32), services.clock)
    with pytest.raises(SealError):
        await other.signing_key()


def test_master_key_sources(tmp_path: Path) -> None:
    env_key = "A" * 43
    s = load_settings(environ={"PROPUSK_MASTER_KEY": env_key}, data_dir=tmp_path)
    assert load_master_key(s) == bytes(32)
    prod = load_settings(environ={}, data_dir=tmp_path / "prod", mode="production")
    with pytest.raises(ConfigError, match="no master key"):
        load_master_key(prod)
    created = load_master_key(prod, create=True)
    path = tmp_path / "prod" / "master.key"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_master_key(prod) == created
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_master_key(prod)
    path.write_text("garbage!")
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError):
        load_master_key(prod)


async def test_the_keyring_keeps_its_view_when_a_re_read_finds_the_database_down(
    services: Services,
) -> None:
    """Tokens keep verifying through an outage (the keys change only by rotation, which
    needs the database too); a process with no view at all answers 503."""
    from propusk.core.errors import ServiceUnavailable
    from propusk.services import keyring as keyring_module
    from propusk.storage.db import Database

    keyring = services.keyring
    kept = dict(await keyring.verification_keys())
    dead = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/test")
    try:
        keyring._db = dead  # the database goes away under a loaded keyring
        keyring._loaded_at -= keyring_module.RELOAD_INTERVAL + 1  # a re-read is due
        assert dict(await keyring.verification_keys()) == kept
        assert dead.outage.down  # the re-read was tried and failed
        # The next re-read waits (one failed read per gap, not one per request).
        assert keyring._retry_at > 0
        assert dict(await keyring.verification_keys(unknown_kid=True)) == kept
        keyring.forget()  # no view at all: the outage is the caller's
        with pytest.raises(ServiceUnavailable):
            await keyring.verification_keys()
    finally:
        await dead.dispose()
