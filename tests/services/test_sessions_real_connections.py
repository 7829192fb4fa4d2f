"""Token issuance on a real SQLite file with separate connections (no per-test savepoints).

The rest of the suite shares one connection per test, which hides lock interactions
between units of work. Here each unit of work gets its own connection, as in production:
a keyring reload during login/refresh must not wait on the login's own write lock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from propusk.services.audit import Origin
from propusk.storage import migrate
from propusk.storage.cache import MemoryCache
from propusk.storage.db import Database
from propusk.wiring import build_services
from tests.conftest import MASTER_KEY, make_settings
from tests.support import ManualClock


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'real.db'}"
    migrate.upgrade(url)
    return url


async def test_keyring_reload_while_issuing_does_not_deadlock(
    sqlite_file: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, 25, database_url=sqlite_file, require_email_confirmation=False
    )
    db = Database.from_url(sqlite_file)
    services = build_services(
        settings, db=db, clock=ManualClock(), cache=MemoryCache(), master_key=MASTER_KEY
    )
    try:
        await services.keyring.ensure_signing_key()
        await services.accounts.create_admin("real@example.com", "a long password", Origin())
        for _ in range(2):
            services.keyring.forget()  # the next call re-reads the keyring (as every 30 s)
            pair = await asyncio.wait_for(
                services.sessions.login("real@example.com", "a long password", Origin()), 4
            )
            services.keyring.forget()
            pair = await asyncio.wait_for(
                services.sessions.refresh(pair.refresh_token, Origin()), 4
            )
            admin = await services.sessions.verify_access(pair.access_token)
            services.keyring.forget()
            await asyncio.wait_for(
                services.sessions.issue_service_tokens(admin, "svc", None, Origin()), 4
            )
    finally:
        await services.close()
