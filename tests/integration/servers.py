"""Real processes for integration tests: a Propusk server, a bare upstream, and nginx."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

IN_CI = os.environ.get("CI") == "true"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 20,
    verify: ssl.SSLContext | bool = True,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: process exited {process.returncode}\n{log.read_text()}")
        try:
            httpx.get(url, timeout=1, verify=verify)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout} s\n{log.read_text()}")


@contextmanager
def running(
    args: list[str],
    url: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        wait_http(url, process, log, verify=verify)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def propusk_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROPUSK_")}
    env.update(
        {
            "PROPUSK_DATA_DIR": str(data_dir),
            "PROPUSK_ARGON2_TIME_COST": "1",
            "PROPUSK_ARGON2_MEMORY_KIB": "1024",
        }
    )
    env.update(extra)
    return env


@contextmanager
def propusk_server(tmp: Path, *serve_args: str, **extra: str) -> Iterator[str]:
    """``propusk init`` then ``propusk serve`` on a free port (with ``serve_args``, such
    as ``--workers 1``); yields the base URL. ``extra`` are environment variables; the
    server's output goes to ``tmp / "propusk.log"``."""
    port = free_port()
    env = propusk_env(tmp / "data", PROPUSK_ISSUER=f"http://127.0.0.1:{port}", **extra)
    subprocess.run([str(BIN / "propusk"), "init"], env=env, check=True, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    with running(
        [str(BIN / "propusk"), "serve", "--port", str(port), *serve_args],
        f"{url}/status",
        tmp / "propusk.log",
        env,
    ):
        yield url


def need(program: str, package: str) -> str:
    """The path of a Debian program, installing its package if missing (we are root)."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if found:
        return found
    for command in (
        ["apt-get", "install", "-y", "-q", package],
        ["sh", "-c", f"apt-get update -q && apt-get install -y -q {package}"],
    ):
        if subprocess.run(command, capture_output=True, check=False).returncode == 0:
            found = shutil.which(program, path="/usr/sbin:/usr/bin")
            if found:
                return found
    if IN_CI:
        pytest.fail(f"{program} (Debian package {package}) could not be installed")
    pytest.skip(f"{program} is not installed and could not be installed")
