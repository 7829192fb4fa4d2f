"""An HTTP load driver: a fixed number of concurrent requests, bounded in count and time.

Each of ``workers`` tasks sends one request at a time over its own keep-alive connection,
so ``workers`` is exactly the number of requests in flight (a closed loop). A worker stops
at its first failure: a benchmark that fails requests measures nothing useful, and for
refresh-token chains a failure breaks the chain anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx

from bench.cpu import CpuMeter
from bench.server import BenchError
from bench.stats import Sample

__all__ = ["Op", "check_json", "client", "drive", "run_phase", "warm_up"]

Op = Callable[[int], Awaitable[None]]
"""One request of worker ``i`` (workers may keep per-worker state, e.g. a token chain)."""


def client(base_url: str, workers: int) -> httpx.AsyncClient:
    """A client with one connection per worker and generous timeouts."""
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0)


def check_json(response: httpx.Response, *keys: str) -> dict[str, Any]:
    """The JSON body of a 200 response that has ``keys``; BenchError otherwise."""
    if response.status_code != 200:
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:200]}"
        )
    body = response.json()
    if not isinstance(body, dict) or any(k not in body for k in keys):
        raise BenchError(f"{response.request.url.path}: unexpected body {response.text[:200]}")
    return body


async def warm_up(op: Op, workers: int) -> None:
    """One untimed request per worker: opens the connections, fills server-side caches."""
    await asyncio.gather(*(op(i) for i in range(workers)))


async def drive(
    name: str,
    op: Op,
    *,
    workers: int,
    seconds: float,
    max_requests: int,
    server_pid: int | None,
) -> Sample:
    """Run ``op`` from ``workers`` concurrent tasks until ``seconds`` pass or
    ``max_requests`` have been sent; latencies are per request, as the client sees them."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    issued = 0
    meter = CpuMeter(server_pid)
    meter.start()
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(index: int) -> None:
        nonlocal issued, errors, first_error
        while issued < max_requests and time.perf_counter() < deadline:
            issued += 1
            sent = time.perf_counter()
            try:
                await op(index)
            except (httpx.HTTPError, BenchError) as exc:
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
                return
            latencies.append(time.perf_counter() - sent)

    async with asyncio.TaskGroup() as group:
        for index in range(workers):
            group.create_task(worker(index))
    elapsed = time.perf_counter() - start
    server_cpu, bench_cpu = meter.stop()
    return Sample(
        name=name,
        concurrency=workers,
        ok=len(latencies),
        errors=errors,
        elapsed=elapsed,
        latencies=tuple(latencies),
        server_cpu=server_cpu,
        bench_cpu=bench_cpu,
        first_error=first_error,
    )


def run_phase(name: str, workers: int, phase: Callable[[], Coroutine[Any, Any, Sample]]) -> Sample:
    """Run one load phase on a fresh event loop. A failure before the measured loop (a
    refused login while setting up, a failed warm-up) becomes a Sample with one error, so
    the other phases still run and the table shows what went wrong."""
    try:
        return asyncio.run(phase())
    except (httpx.HTTPError, BenchError) as exc:
        return Sample(
            name=name,
            concurrency=workers,
            ok=0,
            errors=1,
            elapsed=0.0,
            latencies=(),
            first_error=f"set-up failed: {type(exc).__name__}: {exc}",
        )
