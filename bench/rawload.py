"""A lean HTTP/1.1 load driver for requests prepared in advance, each sent exactly once.

The exchange benchmark needs every request body to be different (a signature is accepted
once) and the client to cost little next to the server: httpx spends about as much CPU
per request as a bare FastAPI endpoint, and wrk cannot send a fixed list of bodies once
each. So the requests are pre-built bytes, and each of ``workers`` tasks sends one at a
time over its own keep-alive connection (a closed loop: ``workers`` requests in flight)
and reads the answer by its ``Content-Length``. The loop ends when the requests run out
or the time is up, whichever comes first. It runs on uvloop when it is installed (it is
uvicorn's default loop too).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bench.cpu import CpuMeter, process_cpu_seconds
from bench.stats import Sample

__all__ = ["Check", "build_request", "run_loop", "send_all"]

Check = Callable[[int, bytes], str | None]
"""Judges one answer (status, body): None when it is as expected, else what is wrong."""

_HEAD_END = b"\r\n\r\n"


def build_request(
    method: str, host: str, port: int, path: str, body: bytes = b"", content_type: str = ""
) -> bytes:
    """The bytes of one HTTP/1.1 request (keep-alive is the default)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    if body or method == "POST":
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(_HEAD_END)
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError("an answer without Content-Length")
    end = lower.index(b"\r\n", at + 2)
    length = int(lower[at + 17 : end])
    return status, await reader.readexactly(length)


def _cpu(pids: Sequence[int]) -> float | None:
    total = 0.0
    for pid in pids:
        seconds = process_cpu_seconds(pid)
        if seconds is None:
            return None
        total += seconds
    return total


async def send_all(
    name: str,
    host: str,
    port: int,
    requests: Sequence[bytes],
    check: Check,
    *,
    workers: int,
    seconds: float,
    server_pid: int | None,
    other_pids: Sequence[int] = (),
) -> tuple[Sample, float | None]:
    """Send ``requests`` in order from ``workers`` connections until they run out or
    ``seconds`` pass. A worker stops at its first unexpected answer. Returns the sample
    and the cores ``other_pids`` (a database's processes, say) kept busy meanwhile."""
    connections = [await asyncio.open_connection(host, port) for _ in range(workers)]
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    next_index = 0
    meter = CpuMeter(server_pid)
    others_before = _cpu(other_pids) if other_pids else None
    meter.start()
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(index: int) -> None:
        nonlocal next_index, errors, first_error
        reader, writer = connections[index]
        while next_index < len(requests) and time.perf_counter() < deadline:
            request = requests[next_index]
            next_index += 1
            sent = time.perf_counter()
            try:
                writer.write(request)
                status, body = await _answer(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
                return
            took = time.perf_counter() - sent
            problem = check(status, body)
            if problem is not None:
                errors += 1
                first_error = first_error or problem
                return
            latencies.append(took)

    try:
        async with asyncio.timeout(seconds + 60):
            async with asyncio.TaskGroup() as group:
                for index in range(workers):
                    group.create_task(worker(index))
    finally:
        elapsed = time.perf_counter() - start
        server_cpu, bench_cpu = meter.stop()
        others_after = _cpu(other_pids) if other_pids else None
        for _, writer in connections:
            writer.close()
    others = None
    if others_before is not None and others_after is not None and elapsed > 0:
        others = (others_after - others_before) / elapsed
    sample = Sample(
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
    return sample, others


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` on a fresh event loop (uvloop when installed)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(coroutine)
