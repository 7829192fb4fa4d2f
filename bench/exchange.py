"""Benchmark: the service-key exchange over HTTP, ``POST /public/auth/`` (spec section 1).

A client signs ``keyId + timestamp`` with SHA512withRSA and trades the signature for a
900-second JWE. The server parses the body, checks the 60 s window, reads the key by its
primary key, verifies the signature (RSA-2048 PKCS#1 v1.5 SHA-512: tens of microseconds),
records the signature in the replay cache (each is accepted once), encrypts a token
(AES-256-GCM) and, at most once a minute per key, writes the key's ``last_used_at``.

Every request carries a body of its own, signed before its phase (see
:mod:`bench.exchange_load`), sent by :mod:`bench.rawload`, a client much cheaper than
httpx. Rows, per database:

* ``bare FastAPI POST``: a second uvicorn process (:mod:`bench.bare`) parsing the same
  body and answering an envelope of the same size — the floor of any POST endpoint here;
* ``GET /livez`` on the Propusk server — its HTTP stack without body or database;
* ``exchange, one key``: every body signed by one key — after the first, no write at all;
* ``exchange, distinct keys``: every body for another key drawn at random from the whole
  store, each last used over a minute ago — so every exchange also writes ``last_used_at``
  (what a production server sees: clients renew about every 14 minutes);
* ``exchange, bad signature``: the hot key's id with a genuine signature made for another
  timestamp — every refusal writes an audit event (measured with the small store only).

Each is measured with 1,000 and then 100,000 keys in ``service_keys`` (inserted straight
into the table, all sharing one public key, all of one organization): the exchange reads
one row by primary key, so its rate must not fall with the store's size. The rows run in
rounds (one phase of each row per round) and each row shows its best round, the least
disturbed one, as the forward-auth benchmark does. The whole sequence runs on SQLite (the
default) and on PostgreSQL (a database made for the run at ``BENCH_POSTGRES_URL``, dropped
at the end; skipped when that server cannot be reached).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import keystore
from bench.bare import BareServer, running_bare
from bench.budget import Budget
from bench.exchange_load import (
    EXCHANGE,
    Row,
    Store,
    bare_requests,
    check_token,
    exchange_requests,
    grow,
    livez_requests,
    ok_envelope,
    ok_status,
    phase,
    prepare,
    refusal,
    refused_requests,
)
from bench.report import DASH, Section, rate_drift_notes
from bench.server import BenchError, Server, running_server
from bench.stats import ratio

__all__ = ["run"]

STORE_SIZES = (1_000, 100_000)
STORE_TARGET = 0.85
"""The 100k-key rate over the 1k-key rate (each relative to the bare POST of its group)
below which the table says the rate fell with the store's size."""
_WARM = 16  # untimed requests before each phase (connections, caches, lazy imports)
_SERVER_WARM = 300  # untimed exchanges once the server has started
_MANY = 1_000_000  # the baselines are bounded by time, not by requests

BARE, LIVEZ, ONE, DISTINCT, REFUSED = "bare", "livez", "one", "distinct", "refused"
NAMES = {
    BARE: "bare FastAPI POST (2nd uvicorn)",
    LIVEZ: "GET /livez",
    ONE: f"{EXCHANGE}, one key",
    DISTINCT: f"{EXCHANGE}, distinct keys",
    REFUSED: f"{EXCHANGE}, bad signature (401)",
}
HEADERS = (
    "measurement",
    "keys",
    "conc.",
    "n",
    "per s",
    "vs bare",
    "vs /livez",
    "p50 ms",
    "p99 ms",
    "CPU ms/op",
    "CPU vs bare",
    "server CPU",
    "db CPU",
    "bench CPU",
    "errors",
)


@dataclass
class _Group:
    """Every round of every row at one store size."""

    keys: int
    runs: dict[str, list[Row]] = field(default_factory=dict)
    written: list[tuple[int, int]] = field(default_factory=list)
    """Per distinct-key round: (keys whose last_used_at it wrote, exchanges it made)."""
    audited: list[tuple[int, int]] = field(default_factory=list)
    """Per refusal round: (audit events written, refusals made)."""

    def add(self, kind: str, row: Row) -> Row:
        self.runs.setdefault(kind, []).append(row)
        return row

    def best(self, kind: str) -> Row:
        """The least disturbed round: the highest rate."""
        return max(self.runs[kind], key=lambda row: row.sample.rate)

    def relative(self, kind: str) -> float:
        return ratio(self.best(kind).sample.rate, self.best(BARE).sample.rate)


def _round(store: Store, bare: BareServer, budget: Budget, group: _Group, refusals: bool) -> None:
    """One phase of each row, in the order of the table."""
    seconds, base_seconds = budget.exchange_seconds, budget.exchange_baseline_seconds
    size = store.size
    bare_one = bare_requests(store, bare)
    group.add(
        BARE,
        phase(bare, NAMES[BARE], [bare_one] * _MANY, [bare_one] * _WARM, ok_envelope, budget,
              base_seconds, None),
    )  # fmt: skip
    livez = livez_requests(store)
    group.add(
        LIVEZ,
        phase(store, NAMES[LIVEZ], [livez] * _MANY, [livez] * _WARM, ok_status, budget,
              base_seconds, None),
    )  # fmt: skip
    hot = exchange_requests(store, [store.hot_key] * (budget.exchange_requests + _WARM))
    group.add(
        ONE,
        phase(store, NAMES[ONE], hot[_WARM:], hot[:_WARM], ok_envelope, budget, seconds, size),
    )
    distinct = exchange_requests(store, store.take(budget.exchange_distinct + _WARM))
    since = datetime.now(UTC)
    row = group.add(
        DISTINCT,
        phase(store, NAMES[DISTINCT], distinct[_WARM:], distinct[:_WARM], ok_envelope, budget,
              seconds, size),
    )  # fmt: skip
    used, total = keystore.count_used_since(store.server.database_url, since)
    if total != size:
        raise BenchError(f"the store holds {total} keys, {size} expected")
    group.written.append((used, row.sample.ok + _WARM))
    if refusals:
        forged = refused_requests(store, budget.exchange_requests + _WARM)
        since = datetime.now(UTC)
        row = group.add(
            REFUSED,
            phase(store, NAMES[REFUSED], forged[_WARM:], forged[:_WARM], refusal, budget,
                  seconds, size),
        )  # fmt: skip
        audited = keystore.count_refusals_since(store.server.database_url, since)
        group.audited.append((audited, row.sample.ok + _WARM))


def _group(store: Store, bare: BareServer, budget: Budget, *, refusals: bool) -> _Group:
    group = _Group(store.size)
    for _ in range(budget.exchange_rounds):
        _round(store, bare, budget, group, refusals)
    return group


def _num(value: float | None, spec: str) -> str:
    if value is None or value != value:  # None or NaN
        return DASH
    return format(value, spec)


def _table_row(row: Row, bare: Row, livez: Row | None) -> tuple[str, ...]:
    s = row.sample
    cpu = s.cpu_per_op
    return (
        s.name,
        DASH if row.keys is None else f"{row.keys:,}",
        str(s.concurrency),
        str(s.ok),
        _num(s.rate, ",.1f"),
        _num(ratio(s.rate, bare.sample.rate), ".2f"),
        DASH if livez is None else _num(ratio(s.rate, livez.sample.rate), ".2f"),
        _num(s.p50 * 1000, ".2f"),
        _num(s.p99 * 1000, ".2f"),
        _num(cpu * 1000, ".3f"),
        _num(ratio(cpu, bare.sample.cpu_per_op), ".2f"),
        _num(s.server_cpu, ".2f"),
        _num(row.db_cpu, ".2f"),
        _num(s.bench_cpu, ".2f"),
        str(s.errors),
    )


def _store_note(small: _Group, large: _Group) -> str:
    parts, worst = [], float("inf")
    for kind, label in ((ONE, "one key"), (DISTINCT, "distinct keys")):
        raw = ratio(large.best(kind).sample.rate, small.best(kind).sample.rate)
        relative = ratio(large.relative(kind), small.relative(kind))
        worst = min(worst, relative)
        parts.append(f"{label}: {raw:.2f}x the rate ({relative:.2f}x relative to the bare POST)")
    verdict = "met" if worst >= STORE_TARGET else "NOT met"
    return (
        f"{large.keys:,} keys vs {small.keys:,}: {'; '.join(parts)}; target: the rate does not "
        f"fall with the store's size (>= {STORE_TARGET:g}x relative): {verdict}"
    )


def _section(title: str, groups: list[_Group], grow_seconds: float, budget: Budget) -> Section:
    section = Section(title=title, headers=HEADERS)
    for group in groups:
        bare, livez = group.best(BARE), group.best(LIVEZ)
        section.rows.append(_table_row(bare, bare, None))
        for kind in (LIVEZ, ONE, DISTINCT, REFUSED):
            if kind in group.runs:
                section.rows.append(_table_row(group.best(kind), bare, livez))
    section.notes.append(_store_note(groups[0], groups[-1]))
    section.notes.append(
        f"{budget.exchange_rounds} round(s) per store size, one phase of each row per round; "
        "each row is its best round (highest rate); 'vs bare' / 'CPU vs bare' compare with "
        "the bare FastAPI POST of the same store size (same client, concurrency and body), "
        "'vs /livez' with GET /livez on this server; 'CPU ms/op' and 'server CPU' are the "
        "serving process's, 'db CPU' the PostgreSQL backends' (SQLite runs inside the server)"
    )
    section.notes.append(
        "rates of every round (per s): "
        + "; ".join(
            f"{NAMES[kind]} ({group.keys:,}): "
            + ", ".join(f"{row.sample.rate:,.0f}" for row in rows)
            for group in groups
            for kind, rows in group.runs.items()
        )
    )
    for group in groups:
        used, made = (sum(n) for n in zip(*group.written, strict=True))
        section.notes.append(
            f"{group.keys:,} keys: last_used_at written by {used} of the {made} "
            "distinct-key exchanges (warm-up included)"
        )
        if group.audited:
            audited, refused = (sum(n) for n in zip(*group.audited, strict=True))
            section.notes.append(
                f"{group.keys:,} keys: {audited} audit events (service_key.exchange, fail) "
                f"written for the {refused} refused exchanges (warm-up included)"
            )
    section.notes.append(
        f"inserting the keys beyond the first {groups[0].keys:,} took {grow_seconds:.1f} s "
        "(untimed); bodies pre-signed before each phase (SHA512withRSA, RSA-2048), "
        "timestamps 1 ms apart"
    )
    first, last = groups[0].runs[BARE][0], groups[-1].runs[BARE][-1]
    section.notes.extend(rate_drift_notes(NAMES[BARE], first.sample.rate, last.sample.rate))
    section.notes.extend(
        f"ERROR {row.sample.name} ({group.keys:,} keys): {row.sample.errors} failed; "
        f"first: {row.sample.first_error}"
        for group in groups
        for rows in group.runs.values()
        for row in rows
        if row.sample.errors
    )
    return section


def _measure(
    title: str, server: Server, bare: BareServer, key: rsa.RSAPrivateKey, budget: Budget
) -> Section:
    store = prepare(server, key)
    grow(store, STORE_SIZES[0])
    # Untimed: the first second of exchanges after start-up is slower (lazy imports, the
    # pool's connections, caches), which would read as a difference between store sizes.
    warm = exchange_requests(store, [store.hot_key] * _SERVER_WARM)
    phase(store, "warm-up", warm, [], ok_envelope, budget, 30.0, None)
    groups = [_group(store, bare, budget, refusals=True)]
    grow_seconds = 0.0
    for size in STORE_SIZES[1:]:
        grow_seconds += grow(store, size)
        groups.append(_group(store, bare, budget, refusals=False))
    with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
        check_token(http, key, store.hot_key, store.app_id)  # still works after the load
    return _section(title, groups, grow_seconds, budget)


def _failed(title: str, exc: BaseException, server: Server | None) -> Section:
    section = Section(title=title, headers=HEADERS)
    section.notes.append(f"ERROR the benchmark failed: {type(exc).__name__}: {exc}")
    if server is not None:
        section.notes += [f"server log: {line}" for line in server.error_lines()]
    return section


def _on_server(
    title: str,
    measure: Callable[[Server], Section],
    settings: dict[str, str] | None = None,
) -> Section:
    try:
        with running_server(settings=settings) as server:
            try:
                return measure(server)
            except (BenchError, httpx.HTTPError, OSError) as exc:
                return _failed(title, exc, server)  # while the server's log still exists
    except BenchError as exc:  # it did not start
        return _failed(title, exc, None)


def run(budget: Budget) -> list[Section]:
    """Start the bare server, then a Propusk server on SQLite and one on PostgreSQL in turn;
    one table per database. Everything started is stopped, the database dropped."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sections: list[Section] = []
    with running_bare() as bare:
        title = f"Service-key exchange on SQLite ({EXCHANGE})"
        sections.append(
            _on_server(title, lambda server: _measure(title, server, bare, key, budget))
        )
        pg_title = f"Service-key exchange on PostgreSQL ({EXCHANGE})"
        created = False
        try:
            with keystore.postgres_database() as url:
                created = True
                section = _on_server(
                    pg_title,
                    lambda server: _measure(pg_title, server, bare, key, budget),
                    settings={"PROPUSK_DATABASE_URL": url},
                )
                section.notes.append(f"PostgreSQL: {keystore.describe_postgres()}")
                sections.append(section)
        except Exception as exc:  # no server there, no permission: say so and go on
            if created:
                raise
            section = Section(title=pg_title, headers=HEADERS)
            section.notes.append(
                f"SKIPPED: no database could be created at {keystore.describe_postgres()} "
                f"(set {keystore.POSTGRES_ENV}): {type(exc).__name__}: {exc}"
            )
            sections.append(section)
    return sections
