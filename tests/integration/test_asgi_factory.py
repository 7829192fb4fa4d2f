"""The documented ASGI factory runs under a stock uvicorn, configured by the environment
like ``propusk serve``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.servers import BIN, free_port, propusk_env, running

pytestmark = pytest.mark.external


def test_uvicorn_runs_the_factory(tmp_path: Path) -> None:
    port = free_port()
    env = propusk_env(tmp_path / "data", PROPUSK_ISSUER=f"http://127.0.0.1:{port}")
    subprocess.run([str(BIN / "propusk"), "init"], env=env, check=True, capture_output=True)
    args = [sys.executable, "-m", "uvicorn", "--factory", "propusk.web.asgi:create_app"]
    url = f"http://127.0.0.1:{port}"
    with running([*args, "--port", str(port)], f"{url}/status", tmp_path / "log", env):
        status = httpx.get(f"{url}/status", timeout=5)
        assert status.status_code == 200, status.text
        # The guarded demo API and forward-auth are there too: the same app as serve's.
        assert httpx.get(f"{url}/demo/health", timeout=5).json() == {"status": "ok"}
        refused = httpx.get(f"{url}/demo/reports", timeout=5)
        assert refused.status_code == 401 and refused.json()["error"] == "unauthenticated"


def test_several_workers_on_local_state_do_not_start(tmp_path: Path) -> None:
    env = propusk_env(tmp_path / "data", WEB_CONCURRENCY="2")
    subprocess.run([str(BIN / "propusk"), "init"], env=env, check=True, capture_output=True)
    args = [sys.executable, "-c", "import propusk.web.asgi as a; a.create_app()"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "set redis_url (PROPUSK_REDIS_URL)" in done.stderr
