"""Propusk nodes on shared state for the scaling benchmark, and what they cost.

One data directory (one master key), one PostgreSQL database of the benchmark's own
(``propusk_bench_scaling_<random>`` at ``BENCH_POSTGRES_URL``, dropped at the end) and one
Redis database (``BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/12``, flushed at the
start and at the end: it must be one nobody else uses). ``propusk init`` and ``propusk
admin create`` run once; then any number of ``propusk serve --workers N`` processes start
on that state, with one ``issuer`` (a token of one node is a token of all), as the
integration tests' clusters do (``tests/integration/nodes.py``).

CPU is read from ``/proc``: the utime + stime of every process of a node (the ``propusk``
process and all its descendants: uvicorn's supervisor and its workers), of the PostgreSQL
backends serving the database, and the database's and Redis's own counters.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy.engine import make_url

from bench import keystore
from bench.cpu import process_cpu_seconds
from bench.server import (
    EMAIL,
    HOST,
    PASSWORD,
    BenchError,
    Server,
    _cli,
    _environment,
    _propusk_command,
    stop,
    wait_ready,
)

__all__ = [
    "REDIS_ENV",
    "Node",
    "PgCounters",
    "RedisCounter",
    "SharedState",
    "cpu_of",
    "describe_redis",
    "nodes",
    "pg_counters",
    "shared_state",
    "tree",
]

REDIS_ENV = "BENCH_REDIS_URL"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"


def _redis_url() -> str:
    return os.environ.get(REDIS_ENV) or DEFAULT_REDIS


def describe_redis() -> str:
    return make_url(_redis_url()).render_as_string(hide_password=True)


@dataclass(frozen=True)
class SharedState:
    """The state every node of the run shares, and the environment to start one with."""

    tmp: Path
    database_url: str
    database: str
    redis_url: str
    env: dict[str, str]


@dataclass(frozen=True)
class Node:
    """One ``propusk serve`` process (the parent of its workers, if any)."""

    server: Server
    port: int
    workers: int
    proc: subprocess.Popen[bytes]


def _flush(url: str) -> None:
    with redis.Redis.from_url(url) as client:
        client.flushdb()


@contextmanager
def shared_state(issuer_port: int) -> Iterator[SharedState]:
    """Create the database, flush the Redis database, ``init`` and ``admin create``;
    at the end remove the data directory, drop the database and flush Redis again."""
    tmp = Path(tempfile.mkdtemp(prefix="propusk-bench-scaling-"))
    name = f"propusk_bench_scaling_{secrets.token_hex(4)}"
    redis_url = _redis_url()
    try:
        _flush(redis_url)
    except redis.RedisError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BenchError(f"Redis at {describe_redis()} (set {REDIS_ENV}): {exc}") from exc
    try:
        with ExitStack() as stack:
            try:
                database_url = stack.enter_context(keystore.postgres_database(name))
            except Exception as exc:  # no server there, no permission: say which and why
                raise BenchError(
                    f"no database could be created at {keystore.describe_postgres()} (set "
                    f"{keystore.POSTGRES_ENV}): {type(exc).__name__}: {exc}"
                ) from exc
            env = _environment(
                {
                    "PROPUSK_DATABASE_URL": database_url,
                    "PROPUSK_REDIS_URL": redis_url,
                    "PROPUSK_ISSUER": f"http://{HOST}:{issuer_port}",
                }
            )
            data = ["--data-dir", str(tmp / "data")]
            _cli([*data, "init"], cwd=tmp, env=env)
            _cli(
                [*data, "admin", "create", "--email", EMAIL, "--password", PASSWORD],
                cwd=tmp,
                env=env,
            )
            yield SharedState(tmp, database_url, name, redis_url, env)
    finally:
        try:
            _flush(redis_url)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def nodes(
    state: SharedState, workers: Sequence[int], ports: Sequence[int], timeout: float = 90.0
) -> Iterator[list[Node]]:
    """Start one node per entry of ``workers`` (its ``--workers``) at once, on ``ports``;
    yield when every one answers ``/status``; SIGTERM them all at the end."""
    with ExitStack() as stack:
        started: list[tuple[subprocess.Popen[bytes], int, int, Path]] = []
        for index, (count, port) in enumerate(zip(workers, ports, strict=True)):
            log = state.tmp / f"node-{index}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [
                        *_propusk_command(),
                        "--data-dir",
                        str(state.tmp / "data"),
                        "serve",
                        "--host",
                        HOST,
                        "--port",
                        str(port),
                        "--workers",
                        str(count),
                    ],
                    cwd=state.tmp,
                    env=state.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            stack.callback(stop, proc)
            started.append((proc, port, count, log))
        result = []
        for proc, port, count, log in started:
            base_url = f"http://{HOST}:{port}"
            wait_ready(proc, base_url, log, timeout)
            server = Server(base_url, proc.pid, EMAIL, PASSWORD, log, state.database_url)
            result.append(Node(server, port, count, proc))
        yield result


def _parents() -> dict[int, int]:
    """Every process's parent, from ``/proc/<pid>/stat``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        parents[int(entry.name)] = int(fields[1])  # field 4 of proc(5): ppid
    return parents


def tree(roots: Sequence[int]) -> list[int]:
    """``roots`` and all their descendants alive now."""
    parents = _parents()
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return sorted(found)


def cpu_of(pids: Sequence[int]) -> dict[int, float]:
    """utime + stime in seconds of each of ``pids`` still alive."""
    seconds = {}
    for pid in pids:
        value = process_cpu_seconds(pid)
        if value is not None:
            seconds[pid] = value
    return seconds


@dataclass(frozen=True)
class PgCounters:
    """What the database server had done at one moment (read at once, nothing lags)."""

    next_xid: int
    """The next transaction id: one is assigned to each transaction that writes, on the
    whole PostgreSQL server (read-only transactions take none)."""
    wal_bytes: int
    """``pg_current_wal_lsn()``: WAL written by the whole server so far."""
    audit_rows: int
    """Rows in the benchmark database's ``audit_events``."""
    backends: list[int]
    """The backends serving the benchmark database (the nodes' pools), not this one."""


async def pg_counters(database_url: str) -> PgCounters:
    """Read :class:`PgCounters` over a connection of its own to the benchmark database."""
    import asyncpg

    url = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
    try:
        row = await connection.fetchrow(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xid,"
            " pg_current_wal_lsn() - '0/0'::pg_lsn AS wal,"
            " (SELECT count(*) FROM audit_events) AS audit"
        )
        pids = await connection.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    assert row is not None
    return PgCounters(
        int(row["xid"]), int(row["wal"]), int(row["audit"]), [int(r["pid"]) for r in pids]
    )


class RedisCounter:
    """Commands processed by the whole Redis server, over one connection kept open; the
    reading's own commands are subtracted (measured at the start: two readings in a row)."""

    def __init__(self) -> None:
        self._client = redis.Redis.from_url(_redis_url())
        first = self.read()
        self._own = self.read() - first

    def read(self) -> int:
        return int(self._client.info("stats")["total_commands_processed"])

    def between(self, before: int, after: int) -> int:
        return max(after - before - self._own, 0)

    def close(self) -> None:
        self._client.close()
