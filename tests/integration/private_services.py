"""A private PostgreSQL and a private redis-server for tests that stop and restart them.

The shared servers of the machine (and of CI) must never be stopped by a test, so fault
tests start their own: each on a free port of 127.0.0.1, with its data in a temporary
directory, stoppable and restartable on the same port and data (a restart is a recovery,
not a new server). Both stop by themselves when the test ends (use them as context
managers or call :meth:`close`).

PostgreSQL refuses to run as root and the tests run as root, so ``initdb``, ``pg_ctl`` and
``postgres`` run as the ``postgres`` OS user (``runuser -u postgres --``), with trust
authentication on 127.0.0.1 and the unix socket in the data's own directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pytest

from tests.integration.servers import IN_CI, free_port

__all__ = ["DEADLINE", "PrivatePostgres", "PrivateRedis", "postgres_bin"]

DEADLINE = 15.0  # seconds a server may take to start or stop before the test fails


def _unavailable(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is not available in CI")
    pytest.skip(f"{what} is not available")


def postgres_bin() -> Path:
    """The directory of Debian's PostgreSQL server programs (the newest installed)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or shutil.which("runuser") is None:
        _unavailable("PostgreSQL (initdb) with runuser")
    return Path(found[-1]).parent


@dataclass
class PrivateRedis:
    """A redis-server of its own (no persistence), started by :meth:`start`."""

    port: int
    work: Path
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, work: Path) -> PrivateRedis:
        if shutil.which("redis-server") is None and not Path("/usr/bin/redis-server").exists():
            _unavailable("redis-server")
        return cls(free_port(), work)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.process = subprocess.Popen(
            [*args, "--appendonly", "no", "--dir", str(self.work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            done = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            )
            if done.stdout.strip() == b"PONG":
                return
            time.sleep(0.05)
        self.stop()
        raise AssertionError("the private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own: ``initdb`` once, then :meth:`start` and
    :meth:`stop` as often as a test likes, always on the same port and data directory.

    The cluster lives in a directory of its own under the system's temporary directory
    (owned by ``postgres``): pytest's temporary directories are root's, mode 0700, where
    the ``postgres`` user cannot enter. :meth:`close` stops the server and removes it.
    """

    port: int
    root: Path
    bin: Path
    running: bool = False
    _initialized: bool = field(default=False, init=False)

    @classmethod
    def create(cls) -> PrivatePostgres:
        binaries = postgres_bin()
        root = Path(tempfile.mkdtemp(prefix="propusk-pg-"))
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o700)
        return cls(free_port(), root, binaries)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's ``postgres`` database (asyncpg, TCP)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            cwd=self.root,
        )

    def _initdb(self) -> None:
        done = self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        if done.returncode != 0:
            raise AssertionError(f"initdb failed: {done.stdout}\n{done.stderr}")
        self._initialized = True

    def start(self) -> None:
        if not self._initialized:
            self._initdb()
        # Durability is not what these tests are about: no fsync keeps start-up and
        # checkpoints cheap on a shared machine.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=60"
        )
        done = self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            str(int(DEADLINE)),
            "start",
        )
        if done.returncode != 0:
            raise AssertionError(f"pg_ctl start failed: {done.stderr}\n{self._log_tail()}")
        self.running = True

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended, as when an operator stops the
        server or it fails over (clients see their connections closed)."""
        if not self.running:
            return
        done = self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
        )
        if done.returncode != 0:
            raise AssertionError(f"pg_ctl stop failed: {done.stderr}\n{self._log_tail()}")
        self.running = False

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
