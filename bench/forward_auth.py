"""Benchmark 3: forward-auth decisions over HTTP, ``GET /v1/authorize``, driven by wrk.

This is the request nginx's ``auth_request`` sends before every request it proxies, so its
rate bounds the whole protected API. A decision with a Bearer token verifies one RS256
signature (the keyring is in memory, re-read every 30 s) and runs
:func:`propusk.core.policy.authorize`; it does no other database work. The load comes from
wrk (C, one event loop per thread), not from httpx: the server answers a thousand or more
of these per second, and a Python client would need about as much CPU as the server and
measure itself. The rows, all with the same threads, connections and duration:

* ``GET /livez`` — a bare endpoint without database work: the HTTP stack's floor;
* ``GET /v1/authorize`` with a valid token for ``GET /demo/apps/app-1/reviews`` (method
  ``reviews.read`` of the demo catalog, held by role ``user``): 200;
* the same with a forged token (its signature bytes changed): 401, the cost of a refusal.

The machine is shared, so the runs are interleaved in rounds (one run of each row per
round) and each row shows its best run, the least disturbed one; the first and last
``/livez`` runs show how much the load drifted meanwhile.

wrk comes from Debian's package; if it is missing it is installed with apt-get, and if
that is impossible the benchmark is reported as skipped.
"""

from __future__ import annotations

import base64
import os
import re
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.budget import Budget
from bench.cpu import CpuMeter
from bench.load import check_json
from bench.report import DASH, Section, rate_drift_notes
from bench.server import BenchError, Server
from bench.stats import ratio

__all__ = [
    "HEADERS",
    "LIVEZ",
    "Row",
    "WrkResult",
    "access_token",
    "best_run",
    "ensure_wrk",
    "forge",
    "parse_wrk",
    "run",
    "table_row",
    "wrk_run",
]

LIVEZ = "GET /livez"
AUTHORIZE = "GET /v1/authorize"
ORIGINAL_METHOD = "GET"
ORIGINAL_URI = "/demo/apps/app-1/reviews"  # reviews.read, held by role user
EXPECTED_METHOD = "reviews.read"
_APT_TIMEOUT = 300


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_APT_TIMEOUT,
        check=False,
    )


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def ensure_wrk() -> tuple[str | None, str]:
    """The path of ``wrk`` (installing Debian's package if needed), or None and why not."""
    found = shutil.which("wrk")
    if found is not None:
        return found, ""
    if shutil.which("apt-get") is None:
        return None, "wrk is not installed and there is no apt-get to install it"
    try:
        result = _apt("install", "-y", "wrk")
        if result.returncode != 0:  # a fresh machine may have no package lists yet
            _apt("update")
            result = _apt("install", "-y", "wrk")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"wrk is not installed and apt-get failed: {exc}"
    found = shutil.which("wrk")
    if result.returncode != 0 or found is None:
        return (
            None,
            f"wrk is not installed and `apt-get install -y wrk` failed: {_last_line(result)}",
        )
    return found, "wrk installed with apt-get"


def forge(token: str) -> str:
    """``token`` with its signature's bytes changed (flipped bits), still well-formed."""
    head, _, signature = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    for index in range(0, len(raw), 16):
        raw[index] ^= 0x5A
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode("ascii")
    assert forged != signature
    return f"{head}.{forged}"


@dataclass(frozen=True)
class WrkResult:
    """What wrk reported for one run."""

    requests: int
    seconds: float
    rate: float
    """wrk's ``Requests/sec``."""
    p50: float
    p99: float
    """Latency percentiles in seconds, from ``--latency``."""
    non_2xx: int
    """``Non-2xx or 3xx responses`` (0 when wrk did not print the line)."""
    socket_errors: int
    """connect + read + write + timeout errors."""


_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"
_TOTAL = re.compile(rf"^\s*(\d+) requests in {_TIME}", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PERCENTILE = re.compile(rf"^\s*(50|99)(?:\.0+)?%\s+{_TIME}\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.MULTILINE)
_SOCKET = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)


def parse_wrk(output: str) -> WrkResult:
    """Parse wrk's report (run with ``--latency``); BenchError if a figure is missing."""
    total, rate = _TOTAL.search(output), _RATE.search(output)
    percentiles = {
        m.group(1): float(m.group(2)) * _SECONDS[m.group(3)] for m in _PERCENTILE.finditer(output)
    }
    if total is None or rate is None or set(percentiles) != {"50", "99"}:
        raise BenchError(f"unexpected wrk output:\n{output.strip()[:1000]}")
    non_2xx = _NON_2XX.search(output)
    sockets = _SOCKET.search(output)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _SECONDS[total.group(3)],
        rate=float(rate.group(1)),
        p50=percentiles["50"],
        p99=percentiles["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


@dataclass(frozen=True)
class Row:
    """One wrk run: what it measured, the CPU each side used, and its unexpected answers."""

    name: str
    result: WrkResult
    server_cpu: float | None
    """Cores the server kept busy on average (CPU-seconds per wall-second)."""
    wrk_cpu: float | None
    errors: int
    """Responses with another status than expected, plus socket errors."""

    @property
    def cpu_per_op(self) -> float | None:
        if self.server_cpu is None or self.result.requests == 0:
            return None
        return self.server_cpu * self.result.seconds / self.result.requests


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk_run(
    wrk: str,
    server: Server,
    budget: Budget,
    name: str,
    path: str,
    headers: dict[str, str],
    *,
    expect_refused: bool = False,
    script: Path | None = None,
) -> Row:
    """One wrk run against ``path``. wrk counts the answers of status 400 and above
    ("Non-2xx or 3xx"): with ``expect_refused`` every answer must be one (the status itself
    was checked with httpx before), otherwise none may be. ``script`` is a wrk Lua script
    (``-s``), for a method or body other than a plain GET."""
    command = [
        wrk,
        f"-t{budget.wrk_threads}",
        f"-c{budget.wrk_connections}",
        f"-d{budget.wrk_seconds}s",
        "--latency",
    ]
    for header, value in headers.items():
        command += ["-H", f"{header}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(server.base_url + path)
    meter = CpuMeter(server.pid)
    children = _children_cpu()
    started = time.perf_counter()
    meter.start()
    # subprocess.run kills wrk if it hangs, on Ctrl-C and on SIGTERM (SystemExit).
    result = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=budget.wrk_seconds + 30,
        check=False,
    )
    server_cpu, _ = meter.stop()
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise BenchError(f"wrk exited with {result.returncode}: {_last_line(result)}")
    parsed = parse_wrk(result.stdout)
    unexpected = parsed.requests - parsed.non_2xx if expect_refused else parsed.non_2xx
    return Row(
        name=name,
        result=parsed,
        server_cpu=server_cpu,
        wrk_cpu=(_children_cpu() - children) / wall if wall > 0 else None,
        errors=unexpected + parsed.socket_errors,
    )


def access_token(http: httpx.Client, server: Server) -> str:
    credentials = {"username": server.email, "password": server.password}
    body = check_json(http.post("/v1/auth/login", json=credentials), "access_token")
    return str(body["access_token"])


def _check_decision(http: httpx.Client, headers: dict[str, str], expected: int) -> None:
    """One request with httpx: the status wrk's run will be judged against."""
    response = http.get("/v1/authorize", headers=headers)
    if response.status_code != expected:
        raise BenchError(
            f"GET /v1/authorize ({headers['X-Original-Method']} {headers['X-Original-URI']}): "
            f"expected {expected}, got {response.status_code} {response.text[:200]}"
        )
    if expected == 200 and response.headers.get("x-propusk-method") != EXPECTED_METHOD:
        raise BenchError(
            f"GET /v1/authorize: allowed as {response.headers.get('x-propusk-method')!r}, "
            f"expected {EXPECTED_METHOD!r}"
        )


def _num(value: float | None, spec: str) -> str:
    return DASH if value is None else format(value, spec)


def table_row(row: Row, livez: Row, connections: int) -> tuple[str, ...]:
    r, base = row.result, livez.result
    cpu, base_cpu = row.cpu_per_op, livez.cpu_per_op
    return (
        row.name,
        str(connections),
        str(r.requests),
        f"{r.rate:,.1f}",
        f"{ratio(r.rate, base.rate):.2f}",
        f"{r.p50 * 1000:.2f}",
        f"{r.p99 * 1000:.2f}",
        f"{ratio(r.p50, base.p50):.2f}",
        _num(None if cpu is None else cpu * 1000, ".3f"),
        _num(None if cpu is None or base_cpu is None else ratio(cpu, base_cpu), ".2f"),
        _num(row.server_cpu, ".2f"),
        _num(row.wrk_cpu, ".2f"),
        str(row.errors),
    )


HEADERS = (
    "measurement",
    "conc.",
    "n",
    "per s",
    "vs /livez",
    "p50 ms",
    "p99 ms",
    "p50 vs /livez",
    "CPU ms/op",
    "CPU vs /livez",
    "server CPU",
    "wrk CPU",
    "errors",
)


_ALLOWED = f"{AUTHORIZE} (allowed, 200)"
_FORGED = f"{AUTHORIZE} (forged token, 401)"


def _measure(wrk: str, server: Server, budget: Budget) -> dict[str, list[Row]]:
    """Check one allowed and one refused decision with httpx, then run rounds of wrk runs
    (/livez, the allowed decision, the refused one): every row's runs are spread over the
    whole measurement, so a change of the machine's load touches them all alike."""
    with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
        token = access_token(http, server)
        allowed = {
            "Authorization": f"Bearer {token}",
            "X-Original-Method": ORIGINAL_METHOD,
            "X-Original-URI": ORIGINAL_URI,
        }
        refused = {**allowed, "Authorization": f"Bearer {forge(token)}"}
        _check_decision(http, allowed, 200)
        _check_decision(http, refused, 401)
        check_json(http.get("/livez"), "status")
        # Untimed: the first runs after start-up are slower (connections, lazy imports,
        # caches), which would read as drift.
        warm_up = replace(budget, wrk_seconds=1)
        wrk_run(wrk, server, warm_up, LIVEZ, "/livez", {})
        wrk_run(wrk, server, warm_up, _ALLOWED, "/v1/authorize", allowed)
        runs: dict[str, list[Row]] = {LIVEZ: [], _ALLOWED: [], _FORGED: []}
        for _ in range(budget.wrk_rounds):
            runs[LIVEZ].append(wrk_run(wrk, server, budget, LIVEZ, "/livez", {}))
            runs[_ALLOWED].append(wrk_run(wrk, server, budget, _ALLOWED, "/v1/authorize", allowed))
            runs[_FORGED].append(
                wrk_run(wrk, server, budget, _FORGED, "/v1/authorize", refused, expect_refused=True)
            )
        _check_decision(http, allowed, 200)  # the server still decides after the load
    return runs


def best_run(rows: list[Row]) -> Row:
    """The least disturbed run: the highest rate."""
    return max(rows, key=lambda row: row.result.rate)


def run(server: Server, budget: Budget) -> Section:
    """The forward-auth table; skipped (with the reason) when wrk cannot be had."""
    section = Section(
        title="Forward-auth decisions (GET /v1/authorize, load from wrk)", headers=HEADERS
    )
    wrk, why = ensure_wrk()
    if wrk is None:
        section.notes.append(f"SKIPPED: {why}")
        return section
    if why:
        section.notes.append(why)
    try:
        runs = _measure(wrk, server, budget)
    except (BenchError, httpx.HTTPError, subprocess.TimeoutExpired, OSError) as exc:
        section.notes.append(f"ERROR the benchmark failed: {type(exc).__name__}: {exc}")
        return section
    livez = best_run(runs[LIVEZ])
    for rows in runs.values():
        row = best_run(rows)
        section.rows.append(table_row(row, livez, budget.wrk_connections))
    section.notes.append(
        f"wrk -t{budget.wrk_threads} -c{budget.wrk_connections} -d{budget.wrk_seconds}s "
        f"--latency, {budget.wrk_rounds} rounds of one run per row; each row is its best run "
        "(highest rate, the least disturbed); original request "
        f"{ORIGINAL_METHOD} {ORIGINAL_URI} ({EXPECTED_METHOD}); 'vs /livez', 'p50 vs /livez' "
        "and 'CPU vs /livez' compare with GET /livez's row; 'conc.' is wrk's connections (one "
        "request in flight on each); 'CPU ms/op' is the server's; 'wrk CPU' is cores busy in wrk"
    )
    section.notes.append(
        "rates of every run (per s): "
        + "; ".join(
            f"{name}: " + ", ".join(f"{row.result.rate:,.0f}" for row in rows)
            for name, rows in runs.items()
        )
    )
    first, last = runs[LIVEZ][0], runs[LIVEZ][-1]
    section.notes.extend(rate_drift_notes(LIVEZ, first.result.rate, last.result.rate))
    section.notes.extend(
        f"ERROR {row.name} (round {index}): {row.errors} unexpected answers or socket errors "
        f"(non-2xx {row.result.non_2xx} of {row.result.requests}, socket errors "
        f"{row.result.socket_errors})"
        for rows in runs.values()
        for index, row in enumerate(rows, 1)
        if row.errors
    )
    return section
