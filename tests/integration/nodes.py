"""Propusk nodes over shared state: ``propusk init`` once, then ``propusk serve`` processes
on one PostgreSQL database and one Redis database, both the test's own
(:mod:`tests.integration.shared_state`), and one data directory, hence one master key."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from propusk.core.opaque import digest
from tests.integration.provision import cli
from tests.integration.servers import BIN, free_port, propusk_env, running
from tests.integration.shared_state import fetch, own_database, own_redis

__all__ = ["Cluster", "assert_one_chain", "cluster", "race_refreshes"]


@dataclass
class Cluster:
    """The running nodes: base URLs, server processes and their logs, in start order."""

    urls: list[str]
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]
    env: dict[str, str]  # for `propusk` commands on the same state
    database_url: str


@contextmanager
def cluster(
    tmp: Path, nodes: int, settings: Mapping[str, str], *, workers: int = 1
) -> Iterator[Cluster]:
    """``nodes`` servers of ``workers`` processes each, with the extra ``PROPUSK_*``
    ``settings``; stopped (SIGTERM), then the database dropped and Redis flushed."""
    with own_database() as database_url, own_redis() as redis_url, ExitStack() as stack:
        ports = [free_port() for _ in range(nodes)]
        env = propusk_env(
            tmp / "data",
            PROPUSK_DATABASE_URL=database_url,
            PROPUSK_REDIS_URL=redis_url,
            # One issuer for the deployment: a token of one node is a token of all.
            PROPUSK_ISSUER=f"http://127.0.0.1:{ports[0]}",
            **settings,
        )
        cli(env, "init")  # the schema, the master key file and the signing key, once
        urls, processes, logs = [], [], []
        for n, port in enumerate(ports):
            url, log = f"http://127.0.0.1:{port}", tmp / f"node-{n}.log"
            args = [str(BIN / "propusk"), "serve", "--port", str(port), "--workers", str(workers)]
            processes.append(stack.enter_context(running(args, f"{url}/status", log, env)))
            urls.append(url)
            logs.append(log)
        yield Cluster(urls, processes, logs, env, database_url)


async def race_refreshes(urls: list[str], token: str, rounds: int) -> str:
    """``rounds`` times, present ``token`` to every one of ``urls`` at once, each over a
    connection pool of its own; within the reuse grace every answer must be a pair with
    the same successor, which the next round presents. Answers the last successor."""
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=10))
            for url in urls
        ]
        for _ in range(rounds):
            answers = await asyncio.gather(
                *(client.post("/v1/auth/refresh", json={"token": token}) for client in clients)
            )
            for r in answers:
                assert r.status_code == 200, r.text
            successors = {r.json()["refresh_token"] for r in answers}
            assert len(successors) == 1, f"the refresh token forked: {len(successors)} successors"
            token = successors.pop()
    return token


async def assert_one_chain(database_url: str, first: str, last: str, rounds: int) -> None:
    """The family that starts at the refresh token ``first`` is one chain of ``rounds``
    rotations ending at ``last``: ``rounds + 1`` rows, none the parent of two."""
    [family] = await fetch(
        database_url, "SELECT family_id FROM refresh_tokens WHERE digest = $1", digest(first)
    )
    rows = await fetch(
        database_url,
        "SELECT parent_id, digest FROM refresh_tokens WHERE family_id = $1",
        family["family_id"],
    )
    assert len(rows) == rounds + 1
    parents = [row["parent_id"] for row in rows if row["parent_id"] is not None]
    assert len(parents) == len(set(parents)) == rounds, "a token has two successors"
    assert digest(last) in {row["digest"] for row in rows}
