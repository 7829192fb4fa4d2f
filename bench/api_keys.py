"""Managed API keys (``X-API-Key: propusk_<keyId>_<secret>``) and the hash utilities.

Three tables (``python -m bench api-keys``, also part of ``all``):

1. **In process** (:func:`run`, after the shared server is stopped): a real
   :class:`~propusk.wiring.Services` over a temporary SQLite database (migrated,
   with a fresh master key, built as the tests build it), one organization, one app and one
   key scoped to it for ``reviews.read``. Steps, each timed on the same key:

   - ``hmac.compare_digest`` of two 64-character hex digests — the floor of any check;
   - HMAC-SHA256 of the 64-character secret with ``hmac.digest`` (one-shot) and with
     ``hmac.new(...).hexdigest()`` (what :func:`propusk.core.apikeys.api_key_digest` does);
   - :func:`~propusk.core.apikeys.parse_api_key` and
     :func:`~propusk.core.apikeys.digest_matches` (HMAC + compare) of the core;
   - :meth:`ApiKeys.verify <propusk.services.api_keys.ApiKeys.verify>`: parse, pepper from
     the keyring, cached record, constant-time compare, ``lastUsedAt`` noted in memory;
   - ``verify`` + :func:`propusk.core.policy.authorize` of ``GET /demo/apps/<app>/reviews``
     on the demo catalog: what a guarded request costs besides HTTP.

   Each step is the best round (the least disturbed); the mean over all rounds is shown
   too, since ``verify`` re-reads the record every ``key_state_ttl`` (5 s) and the keyring
   every 30 s, and the best round may miss those reads.

2. **Forward-auth over HTTP** (:func:`run_http`, on the shared server): an organization, an
   app and a key created through the HTTP API, then wrk drives ``GET /v1/authorize`` with
   ``X-API-Key`` and ``X-Original-Method: GET``, ``X-Original-URI:
   /demo/apps/<app>/reviews`` (200) against ``GET /livez``, interleaved in rounds as in
   :mod:`bench.forward_auth` (whose helpers it uses).

3. **The hash endpoint** (:func:`run_http`): wrk drives ``POST /utils/hash/secure`` with a
   16-byte body (a Lua script sets the method and body) against ``GET /livez`` in the same
   rounds; ``secure_hash`` of the same 16 bytes in this process (with and without the
   Base58 encoding the endpoint adds) is measured before and after the rounds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from bench.budget import Budget
from bench.forward_auth import (
    HEADERS,
    LIVEZ,
    Row,
    access_token,
    best_run,
    ensure_wrk,
    table_row,
    wrk_run,
)
from bench.report import DASH, Section, rate_drift_notes
from bench.server import BenchError, Server
from bench.stats import ratio
from propusk.config import load_settings
from propusk.core.apikeys import digest_matches, parse_api_key
from propusk.core.hashes import base58_encode, secure_hash
from propusk.core.policy import authorize
from propusk.services.audit import Origin
from propusk.services.scopes import KeyScope
from propusk.storage import migrate
from propusk.wiring import Services, build_services

__all__ = ["LABELS", "Figures", "measure", "run", "run_http"]

EXPECTED_METHOD = "reviews.read"
HASH_BODY = b"bench-key-16byte"
assert len(HASH_BODY) == 16
ROUND_OPS = 1_000
"""Operations per timed round of an in-process step."""

LABELS = {
    "compare": "hmac.compare_digest (64 hex chars)",
    "hmac_digest": "hmac.digest SHA-256 (one-shot)",
    "hmac_new": "hmac.new(...).hexdigest() (raw HMAC)",
    "parse": "parse_api_key",
    "matches": "digest_matches (HMAC + compare)",
    "verify": "ApiKeys.verify (cached record)",
    "decide": "verify + authorize (demo catalog)",
}
"""The in-process steps, in order, and how they are printed."""


# -- 1. in process ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    best_ns: float
    mean_ns: float
    ops: int


@dataclass(frozen=True)
class Figures:
    """What one in-process run measured, per step of :data:`LABELS`."""

    timings: dict[str, Timing]
    round_seconds: float
    setup_seconds: float

    def times(self, step: str, over: str) -> float:
        return self.timings[step].best_ns / self.timings[over].best_ns


async def _time_async(op: Callable[[], Awaitable[None]], seconds: float) -> Timing:
    """Rounds of :data:`ROUND_OPS` awaited calls for about ``seconds`` (at least 3)."""
    best = float("inf")
    total_ns = 0
    rounds = 0
    deadline = time.perf_counter() + seconds
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        for _ in range(ROUND_OPS):
            await op()
        took = time.perf_counter_ns() - start
        best = min(best, took / ROUND_OPS)
        total_ns += took
        rounds += 1
    return Timing(best, total_ns / (rounds * ROUND_OPS), rounds * ROUND_OPS)


def _time_sync(op: Callable[[], object], seconds: float) -> Timing:
    best = float("inf")
    total_ns = 0
    rounds = 0
    deadline = time.perf_counter() + seconds
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        for _ in range(ROUND_OPS):
            op()
        took = time.perf_counter_ns() - start
        best = min(best, took / ROUND_OPS)
        total_ns += took
        rounds += 1
    return Timing(best, total_ns / (rounds * ROUND_OPS), rounds * ROUND_OPS)


async def _managed_key(services: Services) -> tuple[str, str]:
    """An administrator, an organization, an app and a key for ``reviews.read`` on it."""
    origin = Origin(ip="127.0.0.1", user_agent="bench")
    account, _ = await services.accounts.create_admin(
        "bench@example.com", "bench-password-1234", origin
    )
    org = await services.orgs.create(account, "bench org", "company", origin)
    app = await services.orgs.create_app(account, org.id, "bench app", origin)
    new = await services.api_keys.create(
        account, org.id, "bench key", KeyScope([app.id], False, [EXPECTED_METHOD]), origin
    )
    return new.key, app.id


async def _measure_services(
    services: Services, seconds: float, started: float
) -> tuple[dict[str, Timing], float]:
    """The timings of every step, and the seconds the set-up took (from ``started``)."""
    key, app_id = await _managed_key(services)
    uri = f"/demo/apps/{app_id}/reviews"
    catalog = services.catalog
    verify = services.api_keys.verify
    pepper = await services.keyring.api_key_pepper()
    parsed = parse_api_key(key)
    assert parsed is not None
    secret = parsed.secret
    secret_bytes = secret.encode("ascii")
    stored = hmac.new(pepper, secret_bytes, hashlib.sha256).hexdigest()
    other = hmac.new(pepper, secret_bytes[::-1], hashlib.sha256).hexdigest()
    if not digest_matches(pepper, secret, stored):
        raise BenchError("the raw HMAC does not match propusk.core.apikeys' digest")

    async def verified() -> None:
        await verify(key)

    async def decided() -> None:
        principal = await verify(key)
        if not authorize(principal, "GET", uri, catalog).allowed:
            raise BenchError(f"the bench key must be allowed GET {uri}")

    await decided()  # warm up (the first verify reads the record) and check the decision
    setup = time.perf_counter() - started
    timings = {
        "compare": _time_sync(lambda: hmac.compare_digest(stored, other), seconds),
        "hmac_digest": _time_sync(lambda: hmac.digest(pepper, secret_bytes, "sha256"), seconds),
        "hmac_new": _time_sync(
            lambda: hmac.new(pepper, secret_bytes, hashlib.sha256).hexdigest(), seconds
        ),
        "parse": _time_sync(lambda: parse_api_key(key), seconds),
        "matches": _time_sync(lambda: digest_matches(pepper, secret, stored), seconds),
        "verify": await _time_async(verified, seconds),
        "decide": await _time_async(decided, seconds),
    }
    return {name: timings[name] for name in LABELS}, setup


def measure(seconds: float) -> Figures:
    """Build the services over a fresh SQLite database, then time each step."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="propusk-bench-apikeys-") as tmp:
        path = Path(tmp)
        url = f"sqlite+aiosqlite:///{path / 'propusk.db'}"
        migrate.upgrade(url)
        config = path / "propusk.toml"  # empty: no ./propusk.toml of the working directory
        config.write_text("", encoding="utf-8")
        settings = load_settings(
            config, environ={}, data_dir=path, database_url=url, issuer="http://bench"
        )

        async def main() -> tuple[dict[str, Timing], float]:
            services = build_services(settings, master_key=secrets.token_bytes(32))
            try:
                return await _measure_services(services, seconds, started)
            finally:
                await services.close()

        timings, setup = asyncio.run(main())
    return Figures(timings=timings, round_seconds=seconds, setup_seconds=setup)


def run(budget: Budget) -> Section:
    """The in-process table (the part of ``python -m bench api-keys`` without a server)."""
    section = Section(
        title="Managed API keys verified in process (ApiKeys.verify, SQLite, cached record)",
        headers=("step", "ns/op", "ops/s", "mean ns/op", "x HMAC", "x compare_digest"),
    )
    try:
        figures = measure(budget.authorize_seconds)
    except Exception as exc:  # a benchmark failure must not hide the other tables
        section.notes.append(f"ERROR the benchmark failed: {type(exc).__name__}: {exc}")
        return section
    for name, timing in figures.timings.items():
        section.rows.append(
            (
                LABELS[name],
                f"{timing.best_ns:.0f}",
                f"{1e9 / timing.best_ns:,.0f}",
                f"{timing.mean_ns:.0f}",
                f"{figures.times(name, 'hmac_new'):.2f}",
                f"{figures.times(name, 'compare'):.1f}",
            )
        )
    verify = figures.timings["verify"]
    section.notes += [
        f"verify / raw HMAC: {figures.times('verify', 'hmac_new'):.1f}x the time; "
        f"verify / digest_matches: {figures.times('verify', 'matches'):.1f}x; "
        f"verify + authorize / verify: {figures.times('decide', 'verify'):.2f}x",
        f"each step: best round of {ROUND_OPS} calls (at least 3 rounds, about "
        f"{figures.round_seconds:g} s; {verify.ops:,} verify calls in all), Python loop "
        "included; 'mean ns/op' over all rounds includes the record's re-read every "
        "key_state_ttl (5 s) and the keyring's every 30 s; 'x HMAC' and 'x compare_digest' "
        "are ns/op over hmac.new(...).hexdigest()'s and compare_digest's",
        f"set-up (migrations, admin with default argon2, org, app, key): "
        f"{figures.setup_seconds:.1f} s, untimed",
    ]
    return section


# -- 2 and 3. over HTTP ----------------------------------------------------------------------


def _created(response: httpx.Response, *keys: str) -> dict[str, Any]:
    """The JSON body of a 201 answer that has ``keys``; BenchError otherwise."""
    if response.status_code != 201:
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:200]}"
        )
    body = response.json()
    if not isinstance(body, dict) or any(k not in body for k in keys):
        raise BenchError(f"{response.request.url.path}: unexpected body {response.text[:200]}")
    return body


def _create_key(http: httpx.Client, server: Server) -> tuple[str, str]:
    """Log in, create an organization, an app and a key for ``reviews.read`` on it."""
    auth = {"Authorization": f"Bearer {access_token(http, server)}"}
    org = _created(
        http.post("/v1/orgs", json={"name": "bench org", "kind": "company"}, headers=auth), "id"
    )
    app = _created(
        http.post(f"/v1/orgs/{org['id']}/apps", json={"name": "bench app"}, headers=auth), "id"
    )
    key = _created(
        http.post(
            f"/v1/orgs/{org['id']}/api-keys",
            json={"name": "bench key", "appIds": [app["id"]], "methods": [EXPECTED_METHOD]},
            headers=auth,
        ),
        "key",
    )
    return str(key["key"]), str(app["id"])


def _check_allowed(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.get("/v1/authorize", headers=headers)
    method = response.headers.get("x-propusk-method")
    auth = response.headers.get("x-propusk-auth")
    if response.status_code != 200 or method != EXPECTED_METHOD or auth != "api-key":
        raise BenchError(
            f"GET /v1/authorize with X-API-Key: expected 200 as {EXPECTED_METHOD} by api-key, "
            f"got {response.status_code} ({method!r} by {auth!r}) {response.text[:200]}"
        )


def _check_hash(http: httpx.Client) -> None:
    response = http.post(
        "/utils/hash/secure", content=HASH_BODY, headers={"Content-Type": "text/plain"}
    )
    expected = base58_encode(secure_hash(HASH_BODY))
    if response.status_code != 200 or response.json().get("hash") != expected:
        raise BenchError(
            f"POST /utils/hash/secure: expected 200 with hash {expected}, "
            f"got {response.status_code} {response.text[:200]}"
        )


@dataclass(frozen=True)
class _Target:
    path: str
    headers: dict[str, str]
    script: Path | None = None


def _rounds(
    wrk: str, server: Server, budget: Budget, targets: dict[str, _Target]
) -> dict[str, list[Row]]:
    """An untimed 1 s warm-up of each target, then rounds of one wrk run per target."""
    warm_up = replace(budget, wrk_seconds=1)
    for name, target in targets.items():
        wrk_run(wrk, server, warm_up, name, target.path, target.headers, script=target.script)
    runs: dict[str, list[Row]] = {name: [] for name in targets}
    for _ in range(budget.wrk_rounds):
        for name, target in targets.items():
            runs[name].append(
                wrk_run(
                    wrk, server, budget, name, target.path, target.headers, script=target.script
                )
            )
    return runs


def _wrk_section(section: Section, runs: dict[str, list[Row]], budget: Budget) -> Row:
    """Fill ``section`` with each target's best run against /livez's; return /livez's."""
    livez = best_run(runs[LIVEZ])
    for rows in runs.values():
        section.rows.append(table_row(best_run(rows), livez, budget.wrk_connections))
    section.notes.append(
        f"wrk -t{budget.wrk_threads} -c{budget.wrk_connections} -d{budget.wrk_seconds}s "
        f"--latency, {budget.wrk_rounds} rounds of one run per row after a 1 s warm-up of each; "
        "each row is its best run (highest rate); 'vs /livez', 'p50 vs /livez' and 'CPU vs "
        "/livez' compare with GET /livez's row; 'CPU ms/op' is the server's"
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
    return livez


def _forward_auth(wrk: str, server: Server, budget: Budget) -> Section:
    section = Section(
        title="Forward-auth with a managed API key (GET /v1/authorize, X-API-Key, load from wrk)",
        headers=HEADERS,
    )
    try:
        with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
            key, app_id = _create_key(http, server)
            uri = f"/demo/apps/{app_id}/reviews"
            headers = {"X-API-Key": key, "X-Original-Method": "GET", "X-Original-URI": uri}
            _check_allowed(http, headers)
            name = "GET /v1/authorize (X-API-Key, allowed, 200)"
            runs = _rounds(
                wrk,
                server,
                budget,
                {LIVEZ: _Target("/livez", {}), name: _Target("/v1/authorize", headers)},
            )
            _check_allowed(http, headers)  # still allowed after the load
    except (BenchError, httpx.HTTPError, subprocess.TimeoutExpired, OSError) as exc:
        section.notes.append(f"ERROR the benchmark failed: {type(exc).__name__}: {exc}")
        return section
    livez = _wrk_section(section, runs, budget)
    allowed = best_run(runs[name])
    cpu, base_cpu = allowed.cpu_per_op, livez.cpu_per_op
    extra = DASH if cpu is None or base_cpu is None else f"{(cpu - base_cpu) * 1000:.3f} ms"
    section.notes.insert(
        0,
        f"API key / /livez: {ratio(allowed.result.rate, livez.result.rate):.2f}x the rate, "
        f"p50 {ratio(allowed.result.p50, livez.result.p50):.2f}x, p99 "
        f"{ratio(allowed.result.p99, livez.result.p99):.2f}x; server CPU per decision above "
        f"/livez: {extra}; original request GET /demo/apps/<app>/reviews ({EXPECTED_METHOD}), "
        "key, org and app created through the HTTP API; X-Propusk-Auth api-key checked "
        "before and after the load",
    )
    return section


def _secure_hash_ns(seconds: float) -> tuple[float, float]:
    """Best ns per ``secure_hash(HASH_BODY)``, and per the same plus ``base58_encode``."""
    bare = _time_sync(lambda: secure_hash(HASH_BODY), seconds).best_ns
    encoded = _time_sync(lambda: base58_encode(secure_hash(HASH_BODY)), seconds).best_ns
    return bare, encoded


def _in_process_row(label: str, ns: float, livez: Row) -> tuple[str, ...]:
    base_cpu = livez.cpu_per_op
    rate = 1e9 / ns
    return (
        label,
        "1",
        DASH,
        f"{rate:,.1f}",
        f"{ratio(rate, livez.result.rate):.2f}",
        DASH,
        DASH,
        DASH,
        f"{ns / 1e6:.4f}",
        DASH if base_cpu is None else f"{ratio(ns / 1e9, base_cpu):.4f}",
        DASH,
        DASH,
        "0",
    )


def _hash_endpoint(wrk: str, server: Server, budget: Budget) -> Section:
    section = Section(
        title="Hash endpoint (POST /utils/hash/secure, 16-byte body, load from wrk)",
        headers=HEADERS,
    )
    name = "POST /utils/hash/secure (16 bytes, 200)"
    try:
        with tempfile.TemporaryDirectory(prefix="propusk-bench-wrk-") as tmp:
            script = Path(tmp) / "hash.lua"
            script.write_text(
                'wrk.method = "POST"\n'
                f'wrk.body = "{HASH_BODY.decode("ascii")}"\n'
                'wrk.headers["Content-Type"] = "text/plain"\n',
                encoding="utf-8",
            )
            with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
                _check_hash(http)
                before = _secure_hash_ns(budget.authorize_seconds / 2)
                runs = _rounds(
                    wrk,
                    server,
                    budget,
                    {
                        LIVEZ: _Target("/livez", {}),
                        name: _Target("/utils/hash/secure", {}, script),
                    },
                )
                after = _secure_hash_ns(budget.authorize_seconds / 2)
                _check_hash(http)
    except (BenchError, httpx.HTTPError, subprocess.TimeoutExpired, OSError, ValueError) as exc:
        section.notes.append(f"ERROR the benchmark failed: {type(exc).__name__}: {exc}")
        return section
    livez = _wrk_section(section, runs, budget)
    hash_ns, encoded_ns = min(before[0], after[0]), min(before[1], after[1])
    section.rows.append(_in_process_row("secure_hash in process (1 thread)", hash_ns, livez))
    section.rows.append(
        _in_process_row("secure_hash + base58_encode in process", encoded_ns, livez)
    )
    endpoint = best_run(runs[name])
    cpu, base_cpu = endpoint.cpu_per_op, livez.cpu_per_op
    extra = DASH if cpu is None or base_cpu is None else f"{(cpu - base_cpu) * 1000:.3f} ms"
    section.notes.insert(
        0,
        f"endpoint / /livez: {ratio(endpoint.result.rate, livez.result.rate):.2f}x the rate; "
        f"endpoint / secure_hash in process: {endpoint.result.rate / (1e9 / hash_ns):.4f}x "
        f"the rate (in process: {hash_ns:,.0f} ns per hash, {encoded_ns:,.0f} ns with Base58; "
        f"best of before and after the rounds); server CPU per request above /livez: {extra}",
    )
    section.notes.append(
        "in-process rows: 'CPU ms/op' is the bench process's time per call, 'CPU vs /livez' "
        "that over /livez's server CPU per request; body "
        f"{HASH_BODY.decode('ascii')!r}, answer checked against secure_hash before and after"
    )
    return section


def run_http(server: Server, budget: Budget) -> list[Section]:
    """The two wrk tables on the shared server; skipped (with the reason) without wrk."""
    wrk, why = ensure_wrk()
    if wrk is None:
        sections = [
            Section(title="Forward-auth with a managed API key", headers=HEADERS),
            Section(title="Hash endpoint (POST /utils/hash/secure)", headers=HEADERS),
        ]
        for section in sections:
            section.notes.append(f"SKIPPED: {why}")
        return sections
    sections = [_forward_auth(wrk, server, budget), _hash_endpoint(wrk, server, budget)]
    if why:
        sections[0].notes.append(why)
    return sections
