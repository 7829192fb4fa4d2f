"""Running the ``propusk`` command: in-process (click's CliRunner) for the administration
commands, and as the installed console script where a real server or a clean process is
needed."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
from click.testing import CliRunner, Result

from propusk.cli.main import cli

# The console script `make test` installs beside the interpreter running the tests.
PROPUSK = Path(sys.executable).parent / "propusk"


def _outside_propusk_env() -> dict[str, str]:
    """The test process's environment without PROPUSK_* settings (a developer's shell may
    have some) or a credentials location."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROPUSK_") and k not in ("XDG_CONFIG_HOME", "COLUMNS")
    }


def invoke(
    *args: str | Path, env: Mapping[str, str] | None = None, input: str | None = None
) -> Result:
    """Run ``propusk ARGS`` in-process with exactly ``env``'s PROPUSK_* settings."""
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PROPUSK_")}
    cleared.update(env or {})
    return CliRunner().invoke(
        cli, [str(a) for a in args], env=cleared, input=input, catch_exceptions=False
    )


def run(
    *args: str | Path, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``propusk ARGS`` as a child process."""
    assert PROPUSK.exists(), f"{PROPUSK} is missing: install the package (make test does)"
    return subprocess.run(
        [str(PROPUSK), *(str(a) for a in args)],
        cwd=cwd,
        env={**_outside_propusk_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(data_dir: Path, cwd: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``propusk --data-dir DATA_DIR serve`` on 127.0.0.1 until the block ends; yields its URL."""
    port = free_port()
    log_path = cwd / f"serve-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(PROPUSK),
                "--data-dir",
                str(data_dir),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=cwd,
            env={**_outside_propusk_env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(process, url, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"the server exited with {process.returncode}:\n{log_path.read_text()}"
                )
            try:
                if http.get(f"{url}/status").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise AssertionError(f"the server did not answer /status within 30 s:\n{log_path.read_text()}")


def query(database: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Read the SQLite database directly (no engine, no event loop)."""
    with closing(sqlite3.connect(database)) as conn:
        return list(conn.execute(sql, params))


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
