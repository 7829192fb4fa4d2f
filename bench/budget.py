"""How long each measurement may run: the bounds that keep ``make bench`` short."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "QUICK", "Budget"]


@dataclass(frozen=True)
class Budget:
    """Bounds for every loop. A loop stops at whichever limit it reaches first."""

    baseline_seconds: float
    """Wall time of one in-process crypto baseline (argon2 verify, RSA sign)."""
    baseline_max_ops: int
    load_seconds: float
    """Wall time of one HTTP load phase (one endpoint at one concurrency)."""
    load_max_requests: int
    concurrency: tuple[int, ...]
    """Concurrent requests in flight, one load phase per value."""
    wrk_seconds: int
    """Duration of one wrk run (forward-auth benchmark; wrk takes whole seconds)."""
    wrk_rounds: int
    """Rounds of wrk runs, each running every forward-auth row once (interleaved)."""
    wrk_connections: int
    wrk_threads: int
    authorize_seconds: float
    """How long each in-process step of the authorize benchmark is repeated."""


FULL = Budget(
    baseline_seconds=3.0,
    baseline_max_ops=20_000,
    load_seconds=8.0,
    load_max_requests=5_000,
    concurrency=(2, 8),
    wrk_seconds=2,
    wrk_rounds=4,
    wrk_connections=8,
    wrk_threads=2,
    authorize_seconds=2.0,
)
QUICK = Budget(
    baseline_seconds=1.0,
    baseline_max_ops=5_000,
    load_seconds=2.0,
    load_max_requests=1_000,
    concurrency=(2, 8),
    wrk_seconds=1,
    wrk_rounds=2,
    wrk_connections=8,
    wrk_threads=2,
    authorize_seconds=0.3,
)
