"""Faults answer in protocol: a real ``propusk serve`` on a private PostgreSQL and a private
Redis (tests/integration/private_services.py), each stopped in the middle of a bounded
load and started again.

Every answer during the load is the normal one or a 503 with ``Retry-After`` in the
route's dialect (Propusk's JSON, the RuStore envelope, a Waves node's 640, the XML API's
result code 13) — never a 500, never a dropped connection. What needs neither backend
keeps working (the table ``KEEPS`` below, documented in docs/deployment.md, "When
PostgreSQL or Redis is down"); what runs on cached credential state keeps working until
that state is older than ``key_state_ttl``, then answers 503. The server logs one line
when the outage begins and one when it ends, and no traceback; it recovers without a
restart.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest

from tests.integration.fault_load import Kind, Load, Outcome, judge
from tests.integration.fault_world import World, kinds, provision
from tests.integration.private_services import PrivatePostgres, PrivateRedis
from tests.integration.servers import propusk_server

pytestmark = [pytest.mark.external, pytest.mark.slow]

CATALOG = Path(__file__).with_name("fault_catalog.toml")
KEY_STATE_TTL = 1.0  # seconds; short, so that cached credential state runs out quickly
WAIT = 30.0  # the longest a wait for a state below may take (not a timing assertion)

# What each kind of request does while a backend is down:
# "works": normal answers throughout; "down": 503 in its dialect (after the edge);
# "cached": normal while its credential state is cached (key_state_ttl), then 503.
Keeps = Literal["works", "down", "cached"]
KEEPS: dict[str, tuple[Keeps, Keeps]] = {
    # kind: (PostgreSQL down, Redis down)
    "login": ("down", "down"),  # the brute-force throttle lives in Redis: fail closed
    "refresh": ("down", "works"),
    "exchange": ("down", "down"),  # the signature's replay marker lives in Redis
    "profile": ("down", "works"),
    "address-exists": ("down", "down"),  # its throttle lives in Redis
    "fa-bearer": ("works", "works"),  # the keyring's view is kept through an outage
    "fa-public-token": ("cached", "works"),
    "fa-api-key": ("cached", "works"),
    "mw-bearer": ("works", "works"),
    "mw-public-token": ("cached", "works"),
    "mw-api-key": ("cached", "works"),
    "mw-signed": ("cached", "down"),  # a replay window: its markers live in Redis
    "fa-waves-api-key": ("cached", "works"),
    "fa-qiwi-public-token": ("cached", "works"),
    "mw-waves-api-key": ("cached", "works"),
    "mw-waves-signed": ("cached", "down"),
    "console": ("works", "works"),
    "readyz": ("down", "down"),
}


@dataclass
class Stack:
    world: World
    postgres: PrivatePostgres
    redis: PrivateRedis
    log: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("faults")
    with ExitStack() as stack:
        postgres = stack.enter_context(PrivatePostgres.create())
        redis = stack.enter_context(PrivateRedis.create(tmp))
        env = {
            "PROPUSK_DATABASE_URL": postgres.url,
            "PROPUSK_REDIS_URL": redis.url,
            "PROPUSK_METHOD_CATALOG": str(CATALOG),
            "PROPUSK_KEY_STATE_TTL": str(KEY_STATE_TTL),
            # The load looks the same addresses up again and again, from one address.
            "PROPUSK_LOOKUP_MAX_PER_ADDRESS": "100000",
            "PROPUSK_LOOKUP_MAX_PER_IP": "100000",
        }
        # One process, so that "one line per outage" is one line in this log.
        url = stack.enter_context(propusk_server(tmp, "--workers", "1", **env))
        world = provision(url, tmp / "data", env)
        yield Stack(world, postgres, redis, tmp / "propusk.log")


def _by_kind(outcomes: list[Outcome], phase: str) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {}
    for o in outcomes:
        if o.phase == phase:
            table.setdefault(o.kind, Counter())[o.verdict] += 1
    return table


def _until(kind: Kind, world: World, verdict: str) -> None:
    """Send ``kind`` until it answers ``verdict`` (bounded by WAIT); every answer on the
    way must be normal or unavailable."""
    deadline = time.monotonic() + WAIT
    with httpx.Client(base_url=world.url, timeout=15) as http:
        while True:
            got = judge(kind, kind.send(http, 0))
            assert not got.startswith("wrong"), (kind.name, got)
            if got == verdict:
                return
            assert time.monotonic() < deadline, f"{kind.name} never answered {verdict}"
            time.sleep(0.2)


def _log_since(log: Path, offset: int) -> str:
    return log.read_bytes()[offset:].decode("utf-8", "replace")


def _outage(stack: Stack, backend: Literal["postgres", "redis"]) -> None:
    world = stack.world
    column = 0 if backend == "postgres" else 1
    service = stack.postgres if backend == "postgres" else stack.redis
    name = "database" if backend == "postgres" else "redis"
    every = kinds(world)
    offset = stack.log.stat().st_size

    outcomes = Load(world.url, every, stop=service.stop).run()
    assert len(outcomes) == 200

    wrong = [o for o in outcomes if o.verdict.startswith("wrong")]
    assert wrong == [], wrong  # no 500, no reset connection, no body in another dialect
    before = _by_kind(outcomes, "before")
    assert all(set(v) == {"normal"} for v in before.values()), before
    during = _by_kind(outcomes, "during")
    # What was measured (shown with -s, and with a failure): answers by kind and phase.
    for phase in ("before", "edge", "during"):
        print(backend, phase, {k: dict(v) for k, v in sorted(_by_kind(outcomes, phase).items())})
    for kind_name, verdicts in during.items():
        keeps = KEEPS[kind_name][column]
        allowed = {"works": {"normal"}, "down": {"unavailable"}, "cached": set(verdicts)}
        assert set(verdicts) <= allowed[keeps], (backend, kind_name, verdicts)
    assert sum(c["unavailable"] for c in during.values()) > 0, during

    # Still down: what runs on cached state runs out of it; what needs nothing works.
    for kind in every:
        keeps = KEEPS[kind.name][column]
        _until(kind, world, "normal" if keeps == "works" else "unavailable")

    service.start()
    for kind in every:  # recovery, without restarting Propusk
        _until(kind, world, "normal")

    log = _log_since(stack.log, offset)
    assert "Traceback" not in log, log[-4000:]
    assert not re.search(r'" 500 ', log), "a 500 in the access log"
    lines = [line for line in log.splitlines() if f"{name} unreachable:" in line]
    assert len(lines) == 1, lines  # one line for the outage, not one per request
    assert len(re.findall(rf"\b{name} is back after", log)) == 1, log[-4000:]


def test_postgres_outage_answers_in_protocol_and_recovers(stack: Stack) -> None:
    _outage(stack, "postgres")


def test_redis_outage_answers_in_protocol_and_recovers(stack: Stack) -> None:
    _outage(stack, "redis")
