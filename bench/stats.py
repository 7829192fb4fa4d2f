"""The outcome of one bounded measurement loop, and the figures derived from it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

__all__ = ["Sample", "ratio"]


@dataclass(frozen=True)
class Sample:
    """What one loop measured: completed operations, their latencies and the CPU used.

    ``server_cpu`` and ``bench_cpu`` are CPU-seconds per wall-second (1.0 = one core
    busy for the whole loop); ``None`` when it could not be read.
    """

    name: str
    concurrency: int
    ok: int
    errors: int
    elapsed: float
    latencies: tuple[float, ...]
    server_cpu: float | None = None
    bench_cpu: float | None = None
    first_error: str | None = None

    @property
    def rate(self) -> float:
        """Completed operations per second of wall time."""
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, pct: int) -> float:
        """Latency at percentile ``pct`` (1-99) in seconds; NaN with fewer than 2 samples.

        With n samples, p99 is close to the maximum unless n is well above 100.
        """
        if len(self.latencies) < 2:
            return float("nan")
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[pct - 1]

    @property
    def cpu_per_op(self) -> float:
        """CPU seconds per completed operation of the side doing the work: the server for
        HTTP loads, this process for in-process baselines. Less sensitive than a rate to
        other work on the machine, since time spent waiting for a core is not counted."""
        busy = self.server_cpu if self.server_cpu is not None else self.bench_cpu
        if busy is None or self.ok == 0:
            return float("nan")
        return busy * self.elapsed / self.ok

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)


def ratio(value: float, baseline: float) -> float:
    """``value / baseline``, NaN when the baseline is zero or missing."""
    return value / baseline if baseline > 0 else float("nan")
