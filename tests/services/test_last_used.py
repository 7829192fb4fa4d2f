"""lastUsedAt written behind in batches (services/last_used.py)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from propusk.services.audit import Origin
from propusk.services.last_used import LastUsed
from propusk.services.scopes import KeyScope
from propusk.storage.db import Database
from propusk.storage.models import ApiKey
from propusk.wiring import Services
from tests.support import ManualClock

ORIGIN = Origin()
log = logging.getLogger("tests.last_used")


async def _api_key(services: Services) -> str:
    owner, _ = await services.accounts.create_admin("used@example.com", "correct horse", ORIGIN)
    org = await services.orgs.create(owner, "Partner", "company", ORIGIN)
    await services.orgs.create_app(owner, org.id, "App", ORIGIN)
    scope = KeyScope(None, True, ["reviews.read"])
    return (await services.api_keys.create(owner, org.id, "k", scope, ORIGIN)).view.key_id


async def test_a_use_shows_at_once_and_is_written_in_one_flush(
    services: Services, clock: ManualClock
) -> None:
    key_id = await _api_key(services)
    used = LastUsed(services.db, clock, ApiKey.key_id, "API keys", log)
    assert used.latest(key_id, None) is None
    used.mark(key_id)
    now = clock.now()
    assert used.latest(key_id, None) == now
    assert used.latest(key_id, now - timedelta(hours=1)) == now
    assert used.latest(key_id, now + timedelta(hours=1)) == now + timedelta(hours=1)
    assert await used.flush() == 1
    assert await used.flush() == 0  # nothing pending any more
    async with services.db.read() as session:
        row = await session.get(ApiKey, key_id)
    assert row is not None and row.last_used_at == now
    await used.close()


async def test_a_failed_write_keeps_the_times_for_the_next_flush(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A database without the schema: the write fails, and it is no outage (a bug, or a
    # database not migrated), so it is logged here with its traceback.
    bare = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'bare.db'}")
    used = LastUsed(bare, clock, ApiKey.key_id, "API keys", log)
    try:
        used.mark("k1")
        with caplog.at_level(logging.WARNING, logger=log.name):
            assert await used.flush() == 1
        assert "could not write lastUsedAt for 1 API keys" in caplog.text
        assert any(r.exc_info for r in caplog.records)
        assert used.latest("k1", None) == clock.now()  # still pending
    finally:
        await used.close()
        await bare.dispose()


async def test_an_outage_keeps_the_times_and_is_logged_once_by_storage(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A database that cannot be opened (its directory does not exist): an outage.
    broken = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    used = LastUsed(broken, clock, ApiKey.key_id, "API keys", log)
    try:
        caplog.set_level(logging.WARNING)
        for _ in range(3):
            used.mark("k1")
            assert await used.flush() == 1
            assert used.latest("k1", None) == clock.now()  # still pending
        messages = [r.getMessage() for r in caplog.records]
        assert [m for m in messages if m.startswith("database unreachable")] != []
        assert len([m for m in messages if m.startswith("database unreachable")]) == 1
        assert not any("lastUsedAt" in m for m in messages)
        assert not any(r.exc_info for r in caplog.records)  # no traceback per flush
    finally:
        await used.close()
        await broken.dispose()
