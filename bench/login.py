"""Benchmark 1: password login throughput, ``POST /v1/auth/login``.

A successful login costs one argon2id verify (tens of milliseconds, on purpose: it is what
makes stolen hashes expensive to crack), one RS256 signature and a few SQLite statements.
So the ceiling is the raw argon2 verify rate of this machine, measured here in the same
run on 1 and 2 threads; the table shows the fraction of it the server reaches.

Every request logs in the same confirmed account. That is fine: the throttle counts only
failed logins, and a success resets the account's counter.
"""

from __future__ import annotations

from functools import partial

from bench import baselines
from bench.budget import Budget
from bench.load import check_json, client, drive, run_phase, warm_up
from bench.report import Section, drift_notes, error_notes, headers, sample_row
from bench.server import Server
from bench.stats import Sample

__all__ = ["LOGIN", "run"]

LOGIN = "POST /v1/auth/login"


async def _logins(server: Server, workers: int, budget: Budget) -> Sample:
    credentials = {"username": server.email, "password": server.password}
    async with client(server.base_url, workers) as http:

        async def login(_: int) -> None:
            response = await http.post("/v1/auth/login", json=credentials)
            check_json(response, "access_token", "refresh_token")

        await warm_up(login, workers)
        return await drive(
            LOGIN,
            login,
            workers=workers,
            seconds=budget.load_seconds,
            max_requests=budget.load_max_requests,
            server_pid=server.pid,
        )


def run(server: Server, budget: Budget) -> Section:
    """Measure the argon2 baselines, then logins at each concurrency of ``budget``, then
    the single-thread baseline again to show how much the machine drifted meanwhile."""
    seconds, max_ops = budget.baseline_seconds, budget.baseline_max_ops
    one = baselines.argon2_verify(threads=1, seconds=seconds, max_ops=max_ops)
    two = baselines.argon2_verify(threads=2, seconds=seconds, max_ops=max_ops)
    logins = [run_phase(LOGIN, c, partial(_logins, server, c, budget)) for c in budget.concurrency]
    again = baselines.argon2_verify(threads=1, seconds=seconds, max_ops=max_ops, label=", again")
    section = Section(
        title="Login throughput (POST /v1/auth/login)",
        headers=headers(("vs argon2 1t", "vs argon2 2t"), "p50 vs verify", "CPU vs verify"),
    )
    for sample in (one, two, *logins, again):
        row = sample_row(
            sample,
            rate_baselines=(one.rate, two.rate),
            latency_baseline=one.p50,
            cpu_baseline=one.cpu_per_op,
        )
        section.rows.append(row)
    params = baselines.argon2_parameters()
    section.notes.append(
        f"argon2id m={params.memory_cost} KiB t={params.time_cost} "
        f"p={params.parallelism}; 'p50 vs verify' and 'CPU vs verify' compare with one "
        f"single-thread verify ({one.p50 * 1000:.2f} ms, {one.cpu_per_op * 1000:.2f} ms CPU)"
    )
    section.notes.extend(drift_notes(one, again))
    section.notes.extend(error_notes(logins))
    return section
