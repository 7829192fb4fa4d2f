"""``python -m bench [all|login|refresh|forward-auth|api-keys|exchange|authorize|
service-tokens|signatures|certificates|mtls|http-signatures|console|scaling] [--quick]
[--markdown]``.

One server is started for the benchmarks that share one (login, refresh, forward-auth, the
HTTP part of api-keys) and stopped at the end (also on Ctrl-C or SIGTERM). The exchange
benchmark then starts and stops its own servers (a bare uvicorn, Propusk on SQLite, Propusk
on PostgreSQL), and so does the scaling benchmark (three nodes on one PostgreSQL + Redis:
one node of one worker, one of two workers, a second node of one worker; only when named,
``all`` leaves it out). The in-process benchmarks (``authorize``, ``service-tokens``, the
in-process part of ``api-keys``) run last, with no server left.
Exit status: 0 when every request succeeded, 1 when some failed, 2 when the benchmark
could not run, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

from rich.console import Console

from bench import (
    api_keys,
    authorize,
    certificates,
    console,
    exchange,
    forward_auth,
    http_signatures,
    login,
    machine,
    mtls,
    refresh,
    scaling,
    service_tokens,
    signatures,
)
from bench.budget import FULL, QUICK, Budget
from bench.report import Section, render
from bench.server import BenchError, Server, running_server

_MIN_WIDTH = 180

SERVER_BENCHMARKS: dict[str, Callable[[Server, Budget], Section | list[Section]]] = {
    "login": login.run,
    "refresh": refresh.run,
    "forward-auth": forward_auth.run,
    "api-keys": api_keys.run_http,
    "signatures": signatures.run_http,
}
OWN_SERVER_BENCHMARKS: dict[str, Callable[[Budget], list[Section]]] = {
    "exchange": exchange.run,
    "scaling": scaling.run,
}
IN_PROCESS_BENCHMARKS: dict[str, Callable[[Budget], Section]] = {
    "authorize": authorize.run,
    "service-tokens": service_tokens.run,
    "api-keys": api_keys.run,
    "certificates": certificates.run,
    "mtls": mtls.run,
    "signatures": signatures.run,
    "http-signatures": http_signatures.run,
    "console": console.run,
}
# A benchmark may have a part on the shared server and a part in process (api-keys).
BENCHMARKS = tuple(
    dict.fromkeys((*SERVER_BENCHMARKS, *OWN_SERVER_BENCHMARKS, *IN_PROCESS_BENCHMARKS))
)
# Run only when named: scaling needs PostgreSQL and Redis, flushes a Redis database of its
# own and takes minutes (docs/scaling.md).
NOT_IN_ALL = ("scaling",)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Propusk benchmarks; figures are ratios against baselines of the same run.",
    )
    parser.add_argument(
        "benchmark",
        nargs="?",
        choices=("all", *BENCHMARKS),
        default="all",
        help="which benchmark to run (default: all, which leaves out scaling)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="shorter loops (a smoke test, noisier figures)"
    )
    parser.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    return parser


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so the server is stopped by the finally blocks.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    budget = QUICK if args.quick else FULL
    if args.benchmark == "all":
        names = [name for name in BENCHMARKS if name not in NOT_IN_ALL]
    else:
        names = [args.benchmark]
    with_server = [name for name in names if name in SERVER_BENCHMARKS]
    own_server = [name for name in names if name in OWN_SERVER_BENCHMARKS]
    in_process = [name for name in names if name in IN_PROCESS_BENCHMARKS]
    console = Console(highlight=False)
    if console.width < _MIN_WIDTH:  # a pipe or a narrow terminal: do not squeeze the tables
        console = Console(highlight=False, width=_MIN_WIDTH)
    signal.signal(signal.SIGTERM, _terminate)
    console.print(machine.describe(), markup=False)
    console.print(machine.load(), markup=False)
    console.print(
        f"mode: {'quick' if args.quick else 'full'}; loads of {budget.load_seconds:g} s "
        f"(at most {budget.load_max_requests} requests) at concurrency "
        f"{', '.join(map(str, budget.concurrency))}; baselines of {budget.baseline_seconds:g} s; "
        f"wrk: {budget.wrk_rounds} rounds of {budget.wrk_seconds} s runs; "
        f"exchange: {budget.exchange_rounds} round(s) per store size of {budget.exchange_requests}"
        f" one-key and {budget.exchange_distinct} distinct-key bodies, at most "
        f"{budget.exchange_seconds:g} s per phase, baselines of "
        f"{budget.exchange_baseline_seconds:g} s, concurrency {budget.exchange_concurrency}; "
        f"scaling: {budget.scaling_rounds} round(s) of {budget.scaling_fast_requests} "
        f"forward-auth and {budget.scaling_slow_requests} exchange/refresh requests per "
        f"configuration, concurrency {budget.scaling_concurrency}; "
        f"in-process rounds of {budget.authorize_seconds:g} s",
        markup=False,
    )
    started = time.perf_counter()
    failed = False
    try:
        if with_server:
            with running_server() as server:
                console.print(f"server: {server.base_url} (pid {server.pid})\n", markup=False)
                for name in with_server:
                    result = SERVER_BENCHMARKS[name](server, budget)
                    for section in result if isinstance(result, list) else [result]:
                        render(section, console, markdown=args.markdown)
                        failed = failed or section.failed
                if failed:
                    console.print("errors in the server log:", markup=False)
                    for line in server.error_lines() or ["(none logged)"]:
                        console.print(f"  {line}", markup=False)
            console.print("server stopped\n", markup=False)
        for name in own_server:
            for section in OWN_SERVER_BENCHMARKS[name](budget):
                render(section, console, markdown=args.markdown)
                failed = failed or section.failed
        for name in in_process:
            section = IN_PROCESS_BENCHMARKS[name](budget)
            render(section, console, markdown=args.markdown)
            failed = failed or section.failed
    except BenchError as exc:
        console.print(f"benchmark could not run: {exc}", markup=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted (the server was stopped)", markup=False)
        return 130
    console.print(f"total time: {time.perf_counter() - started:.1f} s", markup=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
