"""Benchmark: many processes and many nodes on one PostgreSQL + Redis (``python -m bench
scaling``).

Three configurations of the same deployment (one data directory, one PostgreSQL database,
one Redis database: :mod:`bench.cluster`):

* (a) one node, ``propusk serve --workers 1``;
* (b) one node, ``--workers 2`` (uvicorn's supervisor and two worker processes, one port);
* (c) two nodes, ``--workers 1`` each, the load split between them (node (a) and a second).

For each kind of request, every configuration gets the same fixed number of requests:

* forward-auth with a Bearer JWT (``GET /v1/authorize``, an RS256 access token): 200 with
  ``X-Propusk-Method: reviews.read``;
* forward-auth with a managed API key (``X-API-Key``): 200 with ``X-Propusk-Auth: api-key``;
* the service-key exchange (``POST /public/auth/``), every body signed just before its
  phase (a signature is accepted once, across nodes), all by one key: 200 with a JWE;
* refresh (``POST /v1/auth/refresh``): chains of rotations, one per connection, each request
  sending the refresh token of the previous answer (checked: 200 with a new pair); the
  chains run through all phases and, on two nodes, alternate between the nodes.

Every answer is checked. The figure is **server CPU per request**: utime + stime summed
over every process of the configuration's nodes (parents and workers, from ``/proc``),
before and after the phase, over the successful requests. It does not count time spent
waiting for a core, so it says whether more processes add work per request even on a
machine they share with the load generator and PostgreSQL (target: (b)/(a) and (c)/(a)
at most 1.1). Throughput is reported beside it, not targeted: on two cores the load
generator, PostgreSQL and Redis take their share, and nothing can be pinned (``taskset``)
when two workers need the two cores. Besides, per request: the CPU of the PostgreSQL
backends serving the database, the database's commits and rows written
(``pg_stat_database``) and the commands Redis processed (the whole Redis server's count).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import redis
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.budget import Budget
from bench.cluster import (
    Node,
    RedisCounter,
    SharedState,
    cpu_of,
    describe_redis,
    nodes,
    pg_counters,
    shared_state,
    tree,
)
from bench.exchange_load import EXCHANGE_PATH, ok_envelope, prepare, sign_bodies
from bench.keystore import describe_postgres
from bench.load import check_json
from bench.rawload import run_loop
from bench.report import DASH, Section
from bench.server import HOST, BenchError, free_port
from bench.stats import ratio

__all__ = ["CPU_TARGET", "run"]

CPU_TARGET = 1.1
EXPECTED_METHOD = "reviews.read"
JSON = "application/json"
BEARER, API_KEY, EXCHANGE, REFRESH = "bearer", "api-key", "exchange", "refresh"
KIND_NAMES = {
    BEARER: "forward-auth, Bearer JWT",
    API_KEY: "forward-auth, X-API-Key",
    EXCHANGE: f"exchange (POST {EXCHANGE_PATH})",
    REFRESH: "refresh (POST /v1/auth/refresh)",
}
CONFIGS = ("a", "b", "c")
CONFIG_NAMES = {
    "a": "(a) 1 node, --workers 1",
    "b": "(b) 1 node, --workers 2",
    "c": "(c) 2 nodes, --workers 1",
}
_HEAD_END = b"\r\n\r\n"

Check = Callable[[int, int, bytes, bytes], str | None]
"""Judges answer (worker, status, head, body): None when it is as expected."""


@dataclass
class Kind:
    """How to make the next request of a worker for a node, and how to judge its answer."""

    key: str
    make: Callable[[int, Node], bytes]
    check: Check
    count: int


@dataclass
class Result:
    """One phase (or the sum of a configuration's phases of one kind)."""

    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    db_cpu: float = 0.0
    xids: int = 0
    wal_bytes: int = 0
    audit_rows: int = 0
    redis_commands: int = 0
    rates: list[float] = field(default_factory=list)
    per_process: dict[int, float] = field(default_factory=dict)
    first_error: str | None = None

    def add(self, other: Result) -> None:
        self.ok += other.ok
        self.errors += other.errors
        self.elapsed += other.elapsed
        self.latencies += other.latencies
        self.server_cpu += other.server_cpu
        self.db_cpu += other.db_cpu
        self.xids += other.xids
        self.wal_bytes += other.wal_bytes
        self.audit_rows += other.audit_rows
        self.redis_commands += other.redis_commands
        self.rates += other.rates
        for pid, seconds in other.per_process.items():
            self.per_process[pid] = self.per_process.get(pid, 0.0) + seconds
        self.first_error = self.first_error or other.first_error

    def per_op(self, value: float) -> float:
        return value / self.ok if self.ok else float("nan")

    @property
    def best_rate(self) -> float:
        return max(self.rates, default=0.0)


def _request(
    method: str, port: int, path: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if method == "POST":
        lines += [f"Content-Type: {JSON}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    head = await reader.readuntil(_HEAD_END)
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError("an answer without Content-Length")
    end = lower.index(b"\r\n", at + 2)
    return int(head[9:12]), lower, await reader.readexactly(int(lower[at + 17 : end]))


@dataclass(frozen=True)
class _Meters:
    """Where a measured phase reads its counters."""

    state: SharedState
    redis: RedisCounter


async def _drive(
    kind: Kind,
    targets: Sequence[Node],
    count: int,
    *,
    workers: int,
    seconds: float,
    meters: _Meters | None,
) -> Result:
    """Send ``count`` requests of ``kind`` from ``workers`` connections to each of
    ``targets`` (one in flight per worker, its requests alternating between the nodes);
    measured when ``meters`` are given. A worker stops at its first unexpected answer."""
    conns = [
        [await asyncio.open_connection(HOST, node.port) for node in targets] for _ in range(workers)
    ]
    result = Result()
    issued = 0
    pids = tree([node.proc.pid for node in targets])
    if meters is not None:
        pg_before = await pg_counters(meters.state.database_url)
        redis_before = meters.redis.read()
        cpu_before, db_before = cpu_of(pids), cpu_of(pg_before.backends)
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(index: int) -> None:
        nonlocal issued
        turn = index
        while issued < count and time.perf_counter() < deadline:
            issued += 1
            node = turn % len(targets)
            turn += 1
            reader, writer = conns[index][node]
            sent = time.perf_counter()
            try:
                writer.write(kind.make(index, targets[node]))
                status, head, body = await _answer(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                result.errors += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
                return
            problem = kind.check(index, status, head, body)
            if problem is not None:
                result.errors += 1
                result.first_error = result.first_error or problem
                return
            result.latencies.append(time.perf_counter() - sent)

    try:
        async with asyncio.timeout(seconds + 60):
            async with asyncio.TaskGroup() as group:
                for index in range(workers):
                    group.create_task(worker(index))
    finally:
        result.elapsed = time.perf_counter() - start
        for row in conns:
            for _, writer in row:
                writer.close()
    result.ok = len(result.latencies)
    if meters is None:
        return result
    cpu_after = cpu_of(pids)
    redis_after = meters.redis.read()
    pg_after = await pg_counters(meters.state.database_url)
    if set(cpu_after) != set(cpu_before):
        raise BenchError(f"server processes exited during the phase: {sorted(cpu_before)}")
    result.per_process = {pid: cpu_after[pid] - cpu_before[pid] for pid in pids}
    result.server_cpu = sum(result.per_process.values())
    db_after = cpu_of(sorted(set(pg_before.backends) | set(pg_after.backends)))
    result.db_cpu = sum(value - db_before.get(pid, 0.0) for pid, value in db_after.items())
    result.xids = pg_after.next_xid - pg_before.next_xid
    result.wal_bytes = pg_after.wal_bytes - pg_before.wal_bytes
    result.audit_rows = pg_after.audit_rows - pg_before.audit_rows
    result.redis_commands = meters.redis.between(redis_before, redis_after)
    result.rates.append(result.ok / result.elapsed if result.elapsed > 0 else 0.0)
    return result


@dataclass
class _Setup:
    """What the requests need: an access token, an API key, a service key, token chains."""

    access: str
    api_key: str
    app_id: str
    key: rsa.RSAPrivateKey
    key_id: str
    chains: list[str]
    bodies: list[bytes] = field(default_factory=list)


def _prepare(node: Node, workers: int) -> _Setup:
    """Through node (a)'s API: log in, an organization with an app and a service key (the
    exchange benchmark's :func:`prepare`), an API key for ``reviews.read`` on that app, and
    one login per connection for the refresh chains."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    store = prepare(node.server, key)
    credentials = {"username": node.server.email, "password": node.server.password}
    with httpx.Client(base_url=node.server.base_url, timeout=30.0) as http:
        logins = [
            check_json(http.post("/v1/auth/login", json=credentials), "refresh_token")
            for _ in range(workers + 1)
        ]
        owner = {"Authorization": f"Bearer {logins[0]['access_token']}"}
        created = http.post(
            f"/v1/orgs/{store.org_id}/api-keys",
            json={"name": "bench key", "appIds": [store.app_id], "methods": [EXPECTED_METHOD]},
            headers=owner,
        )
        if created.status_code != 201:
            raise BenchError(f"creating an API key: {created.status_code} {created.text[:200]}")
        return _Setup(
            access=str(logins[0]["access_token"]),
            api_key=str(created.json()["key"]),
            app_id=store.app_id,
            key=key,
            key_id=store.hot_key,
            chains=[str(body["refresh_token"]) for body in logins[1:]],
        )


def _decision(expected: bytes) -> Check:
    """A forward-auth answer: 200 with the ``expected`` header line (lower case)."""

    def check(_: int, status: int, head: bytes, body: bytes) -> str | None:
        if status == 200 and b"\r\n" + expected + b"\r\n" in head:
            return None
        return f"expected 200 with {expected.decode()!r}, got {status} {body[:200]!r}"

    return check


def _kinds(setup: _Setup, budget: Budget) -> dict[str, Kind]:
    bearer = {
        "Authorization": f"Bearer {setup.access}",
        "X-Original-Method": "GET",
        "X-Original-URI": "/demo/apps/app-1/reviews",
    }
    api_key = {
        "X-API-Key": setup.api_key,
        "X-Original-Method": "GET",
        "X-Original-URI": f"/demo/apps/{setup.app_id}/reviews",
    }

    def refresh_request(worker: int, node: Node) -> bytes:
        body = json.dumps({"token": setup.chains[worker]}).encode()
        return _request("POST", node.port, "/v1/auth/refresh", {}, body)

    def refreshed(worker: int, status: int, _: bytes, body: bytes) -> str | None:
        if status != 200:
            return f"{status} {body[:200]!r}"
        answer = json.loads(body)
        if not isinstance(answer, dict) or "access_token" not in answer:
            return f"unexpected body {body[:200]!r}"
        setup.chains[worker] = str(answer["refresh_token"])
        return None

    def exchange_request(_: int, node: Node) -> bytes:
        return _request("POST", node.port, EXCHANGE_PATH, {}, setup.bodies.pop())

    fast, slow = budget.scaling_fast_requests, budget.scaling_slow_requests
    return {
        BEARER: Kind(
            BEARER,
            lambda _, node: _request("GET", node.port, "/v1/authorize", bearer),
            _decision(f"x-propusk-method: {EXPECTED_METHOD}".encode()),
            fast,
        ),
        API_KEY: Kind(
            API_KEY,
            lambda _, node: _request("GET", node.port, "/v1/authorize", api_key),
            _decision(b"x-propusk-auth: api-key"),
            fast,
        ),
        EXCHANGE: Kind(EXCHANGE, exchange_request, lambda _, s, __, b: ok_envelope(s, b), slow),
        REFRESH: Kind(REFRESH, refresh_request, refreshed, slow),
    }


def _phase(
    kind: Kind,
    setup: _Setup,
    targets: Sequence[Node],
    count: int,
    budget: Budget,
    meters: _Meters | None = None,
) -> Result:
    if kind.key == EXCHANGE:  # signed now, so that every timestamp is fresh
        setup.bodies = sign_bodies(setup.key, [setup.key_id] * count)[::-1]
    workers = budget.scaling_concurrency
    result: Result = run_loop(
        _drive(kind, targets, count, workers=workers, seconds=budget.scaling_seconds, meters=meters)
    )
    if meters is None and result.errors:
        raise BenchError(f"{KIND_NAMES[kind.key]} (warm-up): {result.first_error}")
    return result


def _num(value: float, spec: str) -> str:
    return DASH if value != value else format(value, spec)  # NaN


async def _backend_count(state: SharedState) -> list[int]:
    return (await pg_counters(state.database_url)).backends


def _measure(
    budget: Budget,
) -> tuple[dict[tuple[str, str], Result], dict[str, list[int]], str, list[int]]:
    ports = [free_port() for _ in range(3)]
    with shared_state(ports[0]) as state, nodes(state, [1, 2, 1], ports) as (one, two, other):
        configs = {"a": [one], "b": [two], "c": [one, other]}
        setup = _prepare(one, budget.scaling_concurrency)
        kinds = _kinds(setup, budget)
        for targets in configs.values():  # lazy imports, pools, caches: untimed
            for kind in kinds.values():
                _phase(kind, setup, targets, budget.scaling_warm_requests, budget)
        results: dict[tuple[str, str], Result] = {}
        meters = _Meters(state, RedisCounter())
        try:
            for _ in range(budget.scaling_rounds):
                for kind in kinds.values():
                    for config, targets in configs.items():
                        phase = _phase(kind, setup, targets, kind.count, budget, meters)
                        results.setdefault((kind.key, config), Result()).add(phase)
        finally:
            meters.redis.close()
        backends: list[int] = run_loop(_backend_count(state))
        processes = {name: tree([n.proc.pid for n in targets]) for name, targets in configs.items()}
        errors = [line for n in (one, two, other) for line in n.server.error_lines()]
        return results, processes, "; ".join(errors), backends


HEADERS = (
    "kind",
    "configuration",
    "n",
    "per s",
    "p50 ms",
    "CPU ms/req",
    "db CPU ms/req",
    "write xacts/req",
    "WAL kB/req",
    "audit rows/req",
    "Redis cmds/req",
    "errors",
)
RATIO_HEADERS = (
    "kind",
    "CPU/req (b)/(a)",
    "CPU/req (c)/(a)",
    f"target <= {CPU_TARGET:g}",
    "per s (b)/(a)",
    "per s (c)/(a)",
)


def _rows(results: dict[tuple[str, str], Result]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for kind in KIND_NAMES:
        for config in CONFIGS:
            r = results[(kind, config)]
            p50 = statistics.median(r.latencies) * 1000 if r.latencies else float("nan")
            rows.append(
                (
                    KIND_NAMES[kind],
                    CONFIG_NAMES[config],
                    str(r.ok),
                    _num(r.best_rate, ",.1f"),
                    _num(p50, ".2f"),
                    _num(r.per_op(r.server_cpu) * 1000, ".3f"),
                    _num(r.per_op(r.db_cpu) * 1000, ".3f"),
                    _num(r.per_op(r.xids), ".2f"),
                    _num(r.per_op(r.wal_bytes) / 1024, ".2f"),
                    _num(r.per_op(r.audit_rows), ".2f"),
                    _num(r.per_op(r.redis_commands), ".2f"),
                    str(r.errors),
                )
            )
    return rows


def _ratios(results: dict[tuple[str, str], Result]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for kind in KIND_NAMES:
        a, b, c = (results[(kind, config)] for config in CONFIGS)
        cpu = [ratio(x.per_op(x.server_cpu), a.per_op(a.server_cpu)) for x in (b, c)]
        met = all(value <= CPU_TARGET for value in cpu)
        rows.append(
            (
                KIND_NAMES[kind],
                *(_num(value, ".2f") for value in cpu),
                "met" if met else "NOT met",
                *(_num(ratio(x.best_rate, a.best_rate), ".2f") for x in (b, c)),
            )
        )
    return rows


def _split(results: dict[tuple[str, str], Result], processes: dict[str, list[int]]) -> str:
    """How (b)'s CPU spread over its processes (the kernel hands connections to workers)."""
    total: dict[int, float] = {}
    for kind in KIND_NAMES:
        for pid, seconds in results[(kind, "b")].per_process.items():
            total[pid] = total.get(pid, 0.0) + seconds
    whole = sum(total.values()) or 1.0
    shares = ", ".join(f"pid {pid}: {total.get(pid, 0.0) / whole:.0%}" for pid in processes["b"])
    return f"(b)'s server CPU by process (supervisor first): {shares}"


def run(budget: Budget) -> list[Section]:
    """Start the three nodes on a fresh PostgreSQL database and Redis database, measure
    every kind on every configuration in rounds, stop everything; two tables."""
    title = "Many processes and nodes on one PostgreSQL + Redis (server CPU per request)"
    section = Section(title=title, headers=HEADERS)
    ratios = Section(
        title="Scaling ratios against (a) one node, --workers 1", headers=RATIO_HEADERS
    )
    try:
        results, processes, server_errors, backends = _measure(budget)
    except (BenchError, httpx.HTTPError, OSError, redis.RedisError) as exc:
        section.notes.append(f"ERROR the benchmark failed: {type(exc).__name__}: {exc}")
        return [section]
    section.rows = _rows(results)
    ratios.rows = _ratios(results)
    section.notes += [
        f"{budget.scaling_rounds} round(s), each one phase of every kind on every "
        f"configuration (interleaved); per phase {budget.scaling_fast_requests} forward-auth "
        f"or {budget.scaling_slow_requests} exchange/refresh requests from "
        f"{budget.scaling_concurrency} connections (one request in flight on each; on two "
        "nodes each connection's requests alternate between the nodes), after "
        f"{budget.scaling_warm_requests} untimed requests of each kind per configuration",
        "'CPU ms/req': utime + stime summed over every server process of the configuration "
        "(/proc, parents and workers) over the successful requests of all rounds; 'db CPU': "
        "the PostgreSQL backends serving the database (the nodes' pools); /proc counts in "
        "ticks of 10 ms per process, so small phases are coarse; 'write xacts': transaction "
        "ids assigned (one per transaction that writes) and 'WAL kB': pg_current_wal_lsn(), "
        "both of the whole PostgreSQL server; 'audit rows': new rows of audit_events; "
        "'Redis cmds': the whole Redis server's total_commands_processed (so other clients "
        "of either server count too: run on a quiet machine); a batched lastUsedAt write "
        "(API keys, every 30 s per process) lands in whichever phase is running; "
        "'per s': the best round; 'p50': over all rounds",
        "no CPU pinning (taskset): two workers need both cores, which the load generator, "
        "PostgreSQL and Redis share; throughput is reported, not targeted",
        f"PostgreSQL: {describe_postgres()} (a database of the run's own, dropped at the "
        f"end); Redis: {describe_redis()} (flushed at the start and the end)",
        _split(results, processes),
        f"PostgreSQL connections open at the end (4 server processes: (a), (b)'s two "
        f"workers, (c)'s second node; {budget.scaling_concurrency} requests in flight): "
        f"{len(backends)}",
    ]
    ratios.notes.append(
        f"target: CPU per request of (b) and (c) at most {CPU_TARGET:g} x (a)'s, for every "
        "kind (more processes add no work per request); throughput ratios are reported only"
    )
    for kind in KIND_NAMES:
        for config in CONFIGS:
            r = results[(kind, config)]
            if r.errors:
                section.notes.append(
                    f"ERROR {KIND_NAMES[kind]}, {CONFIG_NAMES[config]}: {r.errors} failed; "
                    f"first: {r.first_error}"
                )
    if section.failed and server_errors:
        section.notes.append(f"server logs: {server_errors}")
    return [section, ratios]
