"""Refresh rotation is atomic: one refresh token has exactly one successor, however many
presentations of it race, on real connections (each unit of work its own, as in
production) of SQLite and, in the CI run with PROPUSK_TEST_DATABASE_URL, PostgreSQL. The
units of work commit, so they run on a database of their own (a new SQLite file, or a new
database on the PostgreSQL server), never the suite's.

Within the grace period every presentation gets that same successor; after it, a
presentation revokes the family (a leaked token).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from propusk.core.errors import InvalidToken
from propusk.core.opaque import digest
from propusk.services.audit import Origin
from propusk.services.sessions import TokenPair
from propusk.storage import migrate
from propusk.storage.cache import MemoryCache
from propusk.storage.db import Database
from propusk.storage.models import Account, RefreshToken
from propusk.wiring import Services, build_services
from tests.conftest import MASTER_KEY, make_settings
from tests.support import ManualClock

RACERS = 12
ROUNDS = 5
PASSWORD = "a long password"


@pytest.fixture
async def own_database(tmp_path: Path) -> AsyncIterator[str]:
    """A migrated database for this test alone, dropped afterwards."""
    server = os.environ.get("PROPUSK_TEST_DATABASE_URL")
    if not server:
        url = f"sqlite+aiosqlite:///{tmp_path / 'race.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
        return
    name = f"propusk_race_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _services(migrated: str, tmp_path: Path, grace: int) -> Services:
    settings = make_settings(
        tmp_path,
        25,
        database_url=migrated,
        require_email_confirmation=False,
        refresh_reuse_grace=grace,
    )
    services = build_services(
        settings,
        db=Database.from_url(migrated),
        clock=ManualClock(),
        cache=MemoryCache(),
        master_key=MASTER_KEY,
    )
    await services.keyring.ensure_signing_key()
    return services


@pytest.fixture(params=[30, 0], ids=["grace-30s", "grace-0"])
async def real(request: Any, own_database: str, tmp_path: Path) -> AsyncIterator[Services]:
    services = await _services(own_database, tmp_path, request.param)
    yield services
    await services.close()


@pytest.fixture
async def with_grace(own_database: str, tmp_path: Path) -> AsyncIterator[Services]:
    services = await _services(own_database, tmp_path, 30)
    yield services
    await services.close()


async def _children(services: Services, token: str) -> int:
    async with services.db.read() as session:
        parent = await session.scalar(
            select(RefreshToken.id).where(RefreshToken.digest == digest(token))
        )
        count = await session.scalar(
            select(func.count()).select_from(RefreshToken).where(RefreshToken.parent_id == parent)
        )
    return int(count or 0)


async def _race(services: Services, token: str) -> list[TokenPair | InvalidToken]:
    async def one() -> TokenPair | InvalidToken:
        try:
            return await services.sessions.refresh(token, Origin())
        except InvalidToken as exc:
            return exc

    return list(await asyncio.gather(*(one() for _ in range(RACERS))))


async def test_one_successor_however_many_race(real: Services) -> None:
    email = f"race-{uuid.uuid4().hex[:12]}@example.com"
    await real.accounts.create_admin(email, PASSWORD, Origin())
    token = (await real.sessions.login(email, PASSWORD, Origin())).refresh_token
    grace = real.settings.refresh_reuse_grace
    for _ in range(ROUNDS):
        answers = await _race(real, token)
        pairs = [a for a in answers if isinstance(a, TokenPair)]
        successors = {p.refresh_token for p in pairs}
        assert len(successors) == 1, "a refresh token forked"
        assert await _children(real, token) == 1
        if grace:
            # The clock does not move: every racer is within the grace period.
            assert len(pairs) == RACERS
            token = successors.pop()
            continue
        # No grace: the first rotation wins, and a later racer (if any came after its
        # commit) revoked the family, successor included.
        assert pairs
        if len(pairs) < RACERS:
            with pytest.raises(InvalidToken):
                await real.sessions.refresh(successors.pop(), Origin())
            return
        token = successors.pop()


async def test_a_repeat_within_grace_gets_the_same_successor_then_reuse_revokes(
    with_grace: Services,
) -> None:
    real = with_grace
    email = f"repeat-{uuid.uuid4().hex[:12]}@example.com"
    await real.accounts.create_admin(email, PASSWORD, Origin())
    token = (await real.sessions.login(email, PASSWORD, Origin())).refresh_token
    first = await real.sessions.refresh(token, Origin())
    again = await real.sessions.refresh(token, Origin())  # a client retry
    assert again.refresh_token == first.refresh_token
    assert (await real.sessions.verify_access(again.access_token)).subject
    assert await _children(real, token) == 1
    clock = real.clock
    assert isinstance(clock, ManualClock)
    clock.advance(real.settings.refresh_reuse_grace + 1)
    with pytest.raises(InvalidToken):
        await real.sessions.refresh(token, Origin())  # after the grace: a leaked token
    with pytest.raises(InvalidToken):
        await real.sessions.refresh(first.refresh_token, Origin())  # the family is revoked


async def test_a_role_change_reaches_access_tokens_already_issued(with_grace: Services) -> None:
    """Verification checks the account as it is now: a removed role is gone from the very
    next request, though the token still lists it (it lives 15 minutes)."""
    real = with_grace
    email = f"roles-{uuid.uuid4().hex[:12]}@example.com"
    account_id, _ = await real.accounts.create_admin(email, PASSWORD, Origin())
    access = (await real.sessions.login(email, PASSWORD, Origin())).access_token
    assert (await real.sessions.verify_access(access)).roles == {"user", "admin"}
    await real.accounts.set_roles(None, account_id, ["user"], Origin())
    assert (await real.sessions.verify_access(access)).roles == {"user"}
    async with real.db.session() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        account.status = "disabled"
    real.sessions.changes.changed("account", account_id)  # as a disable will announce it
    with pytest.raises(InvalidToken):
        await real.sessions.verify_access(access)
