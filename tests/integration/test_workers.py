"""``propusk serve --workers 2``: on PostgreSQL + Redis it really runs two worker processes,
and one refresh token presented to it twice at once has one successor (CI's PostgreSQL +
Redis pass); on state only one process can hold it refuses to start, naming the setting
that is missing (every pass: those refusals come before any connection)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.nodes import Cluster, assert_one_chain, cluster, race_refreshes
from tests.integration.provision import cli
from tests.integration.servers import BIN, free_port, propusk_env
from tests.integration.shared_state import NEEDS_SHARED_STATE

pytestmark = pytest.mark.external

OWNER = "workers-owner@example.com"
PASSWORD = "integration pass"
ROUNDS = 50
STARTED = "Started server process"  # what uvicorn logs in each worker it starts
# Addresses nothing listens on: the refusals below must come before any connection.
NOWHERE_PG = "postgresql+asyncpg://nobody@127.0.0.1:9/none"
NOWHERE_REDIS = "redis://127.0.0.1:9/0"


def _wait_for_lines(log: Path, text: str, count: int, timeout: float = 30) -> int:
    """How many lines of ``log`` contain ``text``, once there are ``count`` (or the
    deadline passed: uvicorn starts the workers one after another)."""
    deadline = time.monotonic() + timeout
    while True:
        found = sum(text in line for line in log.read_text().splitlines())
        if found >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Cluster]:
    """``propusk serve --workers 2`` on PostgreSQL + Redis (set up outside the event loop:
    the database is made with a loop of its own)."""
    settings = {"PROPUSK_REFRESH_REUSE_GRACE": "10"}
    with cluster(tmp_path, 1, settings, workers=2) as server:
        yield server


@NEEDS_SHARED_STATE
async def test_two_workers_rotate_a_refresh_token_once(two_workers: Cluster) -> None:
    [url], [process], [log] = two_workers.urls, two_workers.processes, two_workers.logs
    assert _wait_for_lines(log, STARTED, 2) == 2, log.read_text()
    cli(two_workers.env, "admin", "create", "--email", OWNER, "--password", PASSWORD)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        r = await http.post("/v1/auth/login", json={"username": OWNER, "password": PASSWORD})
    assert r.status_code == 200, r.text
    first = r.json()["refresh_token"]
    # Two connection pools to the one port: the kernel spreads them over the workers.
    last = await race_refreshes([url, url], first, ROUNDS)
    await assert_one_chain(two_workers.database_url, first, last, ROUNDS)
    # The workers log Propusk's own lines too (a spawned worker inherits no logging set-up).
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        r = await http.get("/v1/user/profile", headers={"Authorization": "Bearer a.b.c"})
    assert r.status_code == 401
    assert _wait_for_lines(log, "propusk.web: GET /v1/user/profile -> invalid_token", 1) == 1
    # SIGTERM to the parent: both workers drain and finish, and the parent exits 0.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0, log.read_text()
    assert _wait_for_lines(log, "Finished server process", 2, timeout=0) == 2


@pytest.mark.parametrize(
    ("database_url", "redis_url", "named"),
    [
        (None, None, "set redis_url (PROPUSK_REDIS_URL)"),
        (None, NOWHERE_REDIS, "set database_url (PROPUSK_DATABASE_URL) to PostgreSQL"),
        (NOWHERE_PG, None, "set redis_url (PROPUSK_REDIS_URL)"),
    ],
    ids=["sqlite-no-redis", "sqlite-with-redis", "postgresql-no-redis"],
)
def test_two_workers_without_shared_state_do_not_start(
    tmp_path: Path, database_url: str | None, redis_url: str | None, named: str
) -> None:
    settings = {"PROPUSK_DATABASE_URL": database_url, "PROPUSK_REDIS_URL": redis_url}
    env = propusk_env(tmp_path / "data", **{k: v for k, v in settings.items() if v})
    args = [str(BIN / "propusk"), "serve", "--workers", "2", "--port", str(free_port())]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: 2 processes need" in done.stderr
    assert named in done.stderr
    assert STARTED not in done.stdout + done.stderr
