"""A real Propusk server in a subprocess, on 127.0.0.1, in a throw-away data directory.

The benchmarks measure what a client sees: the installed ``propusk`` command, uvicorn,
the default SQLite database and in-process cache, the default argon2 parameters. The
environment is scrubbed of ``PROPUSK_*`` variables and the working directory is the
temporary one, so neither a developer's settings nor a ``./propusk.toml`` leak in.
The server is always stopped and the directory removed, whatever happens.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "BenchError",
    "Server",
    "free_port",
    "running_server",
    "server_errors",
    "stop",
    "tail",
    "wait_ready",
]

HOST = "127.0.0.1"
EMAIL = "bench@example.com"
PASSWORD = "bench-password-1234"  # a throw-away account in a throw-away database


class BenchError(Exception):
    """The benchmark could not run as intended (the server failed, a request was refused)."""


@dataclass(frozen=True)
class Server:
    """A running server and the confirmed account to log in with."""

    base_url: str
    pid: int
    email: str
    password: str
    log: Path
    """The server's stdout and stderr (uvicorn's log, tracebacks of unhandled errors)."""
    database_url: str = ""
    """The SQLAlchemy URL of the server's database (the SQLite file in the temporary data
    directory unless ``PROPUSK_DATABASE_URL`` was given)."""

    def error_lines(self, limit: int = 5) -> list[str]:
        """The distinct final lines of the tracebacks in the server log, with counts."""
        return server_errors(self.log, limit)


def _propusk_command() -> list[str]:
    """The ``propusk`` script of this interpreter's environment (the project's venv)."""
    script = Path(sys.executable).parent / "propusk"
    if script.exists():
        return [str(script)]
    found = shutil.which("propusk")
    if found is None:
        raise BenchError("the propusk command is not installed (run `make bench`)")
    return [found]


def _environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROPUSK_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [*_propusk_command(), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        command = " ".join(args[2:4])  # the sub-command, never the password after it
        raise BenchError(f"propusk {command} failed: {result.stderr.strip() or result.stdout}")


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*")


def server_errors(log: Path, limit: int = 5) -> list[str]:
    """Each distinct ``SomeError: message`` line ending a traceback, with its count."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found = Counter(line.strip() for line in lines if _EXCEPTION_LINE.match(line))
    return [f"{count} x {line[:300]}" for line, count in found.most_common(limit)]


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_ready(
    proc: subprocess.Popen[bytes], base_url: str, log: Path, timeout: float, path: str = "/status"
) -> None:
    """Poll ``GET path`` until it answers 200, the process exits, or time runs out."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"the server exited with {proc.returncode}:\n{tail(log)}")
            try:
                if client.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise BenchError(f"the server did not answer within {timeout:.0f} s:\n{tail(log)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def running_server(
    startup_timeout: float = 60.0, *, settings: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """``propusk init``, ``propusk admin create`` (a confirmed account), ``propusk serve``
    on a free port of 127.0.0.1; yields when ``/status`` answers. ``settings`` are extra
    environment variables (``{"PROPUSK_DATABASE_URL": …}``), set after the scrubbing."""
    tmp = Path(tempfile.mkdtemp(prefix="propusk-bench-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        env = _environment(settings)
        data = ["--data-dir", str(tmp / "data")]
        _cli([*data, "init"], cwd=tmp, env=env)
        _cli([*data, "admin", "create", "--email", EMAIL, "--password", PASSWORD], cwd=tmp, env=env)
        port = free_port()
        base_url = f"http://{HOST}:{port}"
        log = tmp / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*_propusk_command(), *data, "serve", "--host", HOST, "--port", str(port)],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_ready(proc, base_url, log, startup_timeout)
        database_url = env.get(
            "PROPUSK_DATABASE_URL", f"sqlite+aiosqlite:///{(tmp / 'data' / 'propusk.db').resolve()}"
        )
        yield Server(
            base_url=base_url,
            pid=proc.pid,
            email=EMAIL,
            password=PASSWORD,
            log=log,
            database_url=database_url,
        )
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
