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
    exchange_rounds: int = 2
    """Rounds of the exchange benchmark per store size (one phase of each row per round)."""
    exchange_seconds: float = 4.0
    """Wall time at most of one exchange phase (it also ends when its bodies run out)."""
    exchange_requests: int = 1_000
    """Bodies pre-signed for one phase of exchanges with one key."""
    exchange_distinct: int = 450
    """Bodies pre-signed for one phase of exchanges each with another key. All rounds
    together take at most the small store's size: a key used in the last minute is not
    written again, so each key serves once."""
    exchange_baseline_seconds: float = 1.5
    """Wall time of the bare POST and /livez phases of the exchange benchmark."""
    exchange_concurrency: int = 8
    scaling_rounds: int = 2
    """Rounds of the scaling benchmark (one phase of every kind on every configuration)."""
    scaling_fast_requests: int = 3_000
    """Requests of one forward-auth phase of the scaling benchmark."""
    scaling_slow_requests: int = 1_000
    """Requests of one exchange or refresh phase of the scaling benchmark."""
    scaling_warm_requests: int = 150
    """Untimed requests of each kind on each configuration before the first round."""
    scaling_seconds: float = 30.0
    """Wall time at most of one scaling phase (it ends when its requests are done)."""
    scaling_concurrency: int = 8


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
    exchange_rounds=2,
    exchange_seconds=4.0,
    exchange_requests=1_000,
    exchange_distinct=450,
    exchange_baseline_seconds=1.5,
    exchange_concurrency=8,
    scaling_rounds=2,
    scaling_fast_requests=3_000,
    scaling_slow_requests=1_000,
    scaling_warm_requests=150,
    scaling_seconds=30.0,
    scaling_concurrency=8,
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
    exchange_rounds=1,
    exchange_seconds=2.0,
    exchange_requests=600,
    exchange_distinct=300,
    exchange_baseline_seconds=1.0,
    exchange_concurrency=8,
    scaling_rounds=1,
    scaling_fast_requests=400,
    scaling_slow_requests=200,
    scaling_warm_requests=40,
    scaling_seconds=10.0,
    scaling_concurrency=8,
)
