"""Benchmark 2: refresh-token rotation throughput, ``POST /v1/auth/refresh``.

A refresh does no password hashing: it looks the token up by digest, marks it used,
stores its successor and an audit event (one SQLite write transaction) and signs a new
RS256 access token. Two baselines from the same run bracket it:

* raw RS256 signing with pyca/cryptography — the crypto floor of every refresh;
* ``GET /status`` on the same server at the same concurrency — the cost of the HTTP
  stack (httpx client, uvicorn, FastAPI) plus one ``SELECT 1``, i.e. a bare request.

Each worker logs in once and then always sends its newest refresh token: tokens are
single-use and rotate, so re-sending an old one would be (correctly) treated as reuse.
"""

from __future__ import annotations

from functools import partial

from bench import baselines
from bench.budget import Budget
from bench.load import check_json, client, drive, run_phase, warm_up
from bench.report import Section, drift_notes, error_notes, headers, sample_row
from bench.server import Server
from bench.stats import Sample

__all__ = ["REFRESH", "STATUS", "run"]

REFRESH = "POST /v1/auth/refresh"
STATUS = "GET /status"


async def _status(server: Server, workers: int, budget: Budget) -> Sample:
    async with client(server.base_url, workers) as http:

        async def status(_: int) -> None:
            check_json(await http.get("/status"), "database")

        await warm_up(status, workers)
        return await drive(
            STATUS,
            status,
            workers=workers,
            seconds=budget.load_seconds,
            max_requests=budget.load_max_requests,
            server_pid=server.pid,
        )


async def _refreshes(server: Server, workers: int, budget: Budget) -> Sample:
    credentials = {"username": server.email, "password": server.password}
    async with client(server.base_url, workers) as http:
        tokens: list[str] = []
        for _ in range(workers):  # one token family per worker
            body = check_json(await http.post("/v1/auth/login", json=credentials), "refresh_token")
            tokens.append(str(body["refresh_token"]))

        async def refresh(index: int) -> None:
            response = await http.post("/v1/auth/refresh", json={"token": tokens[index]})
            tokens[index] = str(
                check_json(response, "access_token", "refresh_token")["refresh_token"]
            )

        await warm_up(refresh, workers)
        return await drive(
            REFRESH,
            refresh,
            workers=workers,
            seconds=budget.load_seconds,
            max_requests=budget.load_max_requests,
            server_pid=server.pid,
        )


def _row(sample: Sample, sign: Sample, status: Sample | None) -> tuple[str, ...]:
    return sample_row(
        sample,
        rate_baselines=(sign.rate, None if status is None else status.rate),
        latency_baseline=None if status is None else status.p50,
        cpu_baseline=sign.cpu_per_op,
    )


def run(server: Server, budget: Budget) -> Section:
    """Measure RSA signing, then /status and refresh at each concurrency of ``budget``
    (interleaved, so each pair of figures shares the machine's state), then RSA signing
    again to show the drift."""
    sign = baselines.rsa_sign(seconds=budget.baseline_seconds, max_ops=budget.baseline_max_ops)
    section = Section(
        title="Refresh throughput (POST /v1/auth/refresh)",
        headers=headers(("vs RSA sign", "vs /status"), "p50 vs /status", "CPU vs sign"),
    )
    section.rows.append(_row(sign, sign, None))
    loads: list[Sample] = []
    for workers in budget.concurrency:
        status = run_phase(STATUS, workers, partial(_status, server, workers, budget))
        refresh = run_phase(REFRESH, workers, partial(_refreshes, server, workers, budget))
        loads += [status, refresh]
        section.rows += [_row(status, sign, status), _row(refresh, sign, status)]
    again = baselines.rsa_sign(
        seconds=budget.baseline_seconds, max_ops=budget.baseline_max_ops, label=", again"
    )
    section.rows.append(_row(again, sign, None))
    section.notes.append(
        "RSA-2048 PKCS#1 v1.5 SHA-256; 'vs /status' and 'p50 vs /status' compare with "
        "GET /status at the same concurrency; 'CPU vs sign' compares with one RS256 signature "
        f"({sign.cpu_per_op * 1000:.2f} ms CPU)"
    )
    section.notes.extend(drift_notes(sign, again))
    section.notes.extend(error_notes(loads))
    return section
