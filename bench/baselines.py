"""In-process baselines: the raw cost of the cryptography each endpoint must do.

* argon2id verify (argon2-cffi) at the server's default parameters — every successful
  login does exactly one. Measured on 1 thread and on 2 threads: the machine has two
  cores, and the server verifies off the event loop in worker threads.
* RS256 signing (pyca/cryptography, RSA-2048, PKCS#1 v1.5, SHA-256) — every login and
  every refresh signs one access token. Measured on 1 thread: the server signs on its
  event-loop thread.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from argon2 import PasswordHasher, Type
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bench.cpu import CpuMeter
from bench.stats import Sample
from propusk.config import Settings
from propusk.core.passwords import SALT_BYTES, PasswordPolicy

__all__ = ["Argon2Parameters", "argon2_parameters", "argon2_verify", "rsa_sign"]

_PASSWORD = b"correct horse battery staple"


class Argon2Parameters(NamedTuple):
    time_cost: int
    memory_cost: int
    parallelism: int
    hash_len: int
    salt_len: int


def argon2_parameters() -> Argon2Parameters:
    """The argon2id parameters a server started with no configuration uses (read from
    Propusk's own defaults, so the baseline follows them if they change)."""
    defaults = Settings()
    return Argon2Parameters(
        time_cost=defaults.argon2_time_cost,
        memory_cost=defaults.argon2_memory_kib,
        parallelism=defaults.argon2_parallelism,
        hash_len=PasswordPolicy().hash_len,
        salt_len=SALT_BYTES,
    )


def _threaded(
    name: str, op: Callable[[], None], *, threads: int, seconds: float, max_ops: int
) -> Sample:
    """Run ``op`` in ``threads`` threads until ``seconds`` pass or ``max_ops`` are done."""
    latencies: list[float] = []
    lock = threading.Lock()
    issued = 0
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        nonlocal issued
        while time.perf_counter() < deadline:
            with lock:
                if issued >= max_ops:
                    return
                issued += 1
            started = time.perf_counter()
            op()
            latencies.append(time.perf_counter() - started)  # list.append is atomic

    op()  # warm-up: first-call allocations and lazy initialisation stay out of the figures
    meter = CpuMeter(None)
    meter.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(loop) for _ in range(threads)]:
            future.result()
    elapsed = time.perf_counter() - start
    _, own = meter.stop()
    return Sample(
        name=name,
        concurrency=threads,
        ok=len(latencies),
        errors=0,
        elapsed=elapsed,
        latencies=tuple(latencies),
        bench_cpu=own,
    )


def argon2_verify(*, threads: int, seconds: float, max_ops: int, label: str = "") -> Sample:
    """Successful argon2id verifications per second (argon2-cffi releases the GIL)."""
    p = argon2_parameters()
    hasher = PasswordHasher(
        time_cost=p.time_cost,
        memory_cost=p.memory_cost,
        parallelism=p.parallelism,
        hash_len=p.hash_len,
        salt_len=p.salt_len,
        type=Type.ID,
    )
    encoded = hasher.hash(_PASSWORD)

    def verify() -> None:
        if not hasher.verify(encoded, _PASSWORD):
            raise AssertionError("argon2 verify failed")

    return _threaded(
        f"argon2id verify ({threads} thread{'s' if threads > 1 else ''}{label})",
        verify,
        threads=threads,
        seconds=seconds,
        max_ops=max_ops,
    )


def _signing_input() -> bytes:
    """A JWT signing input the size of a Propusk access token's."""

    def part(value: Mapping[str, object]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    header = {"alg": "RS256", "typ": "at+jwt", "kid": "k" * 43}
    claims = {
        "iss": "http://127.0.0.1:8080",
        "sub": "00000000-0000-0000-0000-000000000000",
        "roles": ["admin", "user"],
        "addresses": [],
        "iat": 1_700_000_000,
        "exp": 1_700_000_900,
        "jti": "00000000-0000-0000-0000-000000000000",
    }
    return part(header) + b"." + part(claims)


def rsa_sign(*, seconds: float, max_ops: int, label: str = "") -> Sample:
    """RS256 signatures per second on one thread (RSA-2048, PKCS#1 v1.5, SHA-256)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = _signing_input()

    def sign() -> None:
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    return _threaded(
        f"RS256 sign (1 thread{label})", sign, threads=1, seconds=seconds, max_ops=max_ops
    )
