"""``python -m bench.authorize [--quick]``: decisions per second of the pure policy.

Also part of the harness as ``python -m bench authorize`` (and ``all``): :func:`run` renders
the same figures as a table; both take them from :func:`measure`.

No server: a generated catalog of 500 methods (app and general, 2 to 6 segments, a few
verbs, literal siblings beside placeholders) and a mix of requests — allowed, out of app
scope, method not held, unknown route, hostile path — decided by
:func:`propusk.core.policy.authorize`. The machine is shared, so the figures come with two
baselines measured in the same run on the same requests:

- ``normalize_path`` alone, the part of every decision that cannot be skipped;
- a dict lookup of the exact ``(verb, path)``, the floor any router pays in Python.

Each figure is the best of several rounds (the least disturbed one).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.budget import FULL, QUICK, Budget
from bench.report import Section
from propusk.core.catalog import MethodCatalog, parse_catalog
from propusk.core.paths import PathError, normalize_path
from propusk.core.policy import authorize
from propusk.core.principals import Principal

__all__ = ["LABELS", "Figures", "generate_catalog", "main", "measure", "round_seconds", "run"]

METHODS = 500
_VERBS = ("GET", "POST", "PUT", "DELETE", "PATCH")
_Request = tuple[str, str]


def generate_catalog(count: int = METHODS, seed: int = 1) -> tuple[str, list[_Request]]:
    """TOML of ``count`` methods, and one concrete request per route."""
    rng = random.Random(seed)
    lines = ['public = ["GET /v1/health", "GET /v1/docs/{page}"]', ""]
    requests: list[_Request] = []
    for n in range(count):
        resource = f"res{n:03d}"
        version = f"v{1 + n % 3}"
        shape = rng.randrange(6)
        if shape < 3:  # app methods: /vN/apps/{app_id}/resource[/{item_id}[/action]]
            kind = "app"
            base = f"/{version}/apps/{{app_id}}/{resource}"
            templates = [base, f"{base}/{{item_id}}", f"{base}/{{item_id}}/publish"][: shape + 1]
        elif shape < 5:  # general methods: /vN/resource[/{id}] and an org-wide report
            kind = "general"
            templates = [f"/{version}/{resource}", f"/{version}/{resource}/{{id}}"]
            if shape == 4:
                templates.append(f"/{version}/orgs/reports/{resource}/{{year}}/{{month}}")
        else:  # a literal beside a placeholder: /vN/resource/search beats /vN/resource/{id}
            kind = "general"
            templates = [f"/{version}/{resource}/search"]
        verb = _VERBS[n % len(_VERBS)]
        routes = [f"{verb} {t}" for t in templates]
        if shape == 5:
            routes.append(f"GET /{version}/{resource}/{{id}}")
        listed = ", ".join(f'"{r}"' for r in routes)
        lines += ["[[methods]]", f'name = "m{n:03d}"', f'kind = "{kind}"', f"routes = [{listed}]"]
        for route in routes:
            verb_of, _, template = route.partition(" ")
            app = f"app{rng.randrange(20)}"
            path = (
                template.replace("{app_id}", app)
                .replace("{item_id}", f"it{rng.randrange(10**6)}")
                .replace("{id}", f"{rng.randrange(10**6)}")
                .replace("{year}", "2024")
                .replace("{month}", "06")
            )
            requests.append((verb_of, path))
    lines += [
        "",
        "[roles]",
        'admin = ["*"]',
        "user = [" + ", ".join(f'"m{n:03d}"' for n in range(0, count, 4)) + "]",
    ]
    return "\n".join(lines) + "\n", requests


def _workload(requests: list[_Request], seed: int = 2) -> list[_Request]:
    """The catalog's own requests plus denials: unknown routes, wrong verbs, hostile paths."""
    rng = random.Random(seed)
    extra: list[_Request] = []
    for verb, path in rng.sample(requests, len(requests) // 5):
        extra.append((verb, path + "/unknown"))
        extra.append(("OPTIONS", path))
        extra.append((verb, path + "?page=2&sort=name"))
    extra += [("GET", "/v1/apps/app1/%2e%2e/res001")] * 10
    extra += [("GET", "/v1/apps/app1/a%2Fb")] * 10
    extra += [("GET", "/v1/health")] * 20
    work = requests + extra
    rng.shuffle(work)
    return work


def _best_ns(run: Callable[[], None], ops: int, seconds: float) -> float:
    """Best nanoseconds per operation over rounds of ``run`` for about ``seconds``."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        run()
        best = min(best, (time.perf_counter_ns() - start) / ops)
        rounds += 1
    return best


def _runners(
    catalog: MethodCatalog, work: Sequence[_Request], principals: Sequence[Principal]
) -> dict[str, Callable[[], None]]:
    exact = {(verb, path): path for verb, path in work}
    pairs = [(principals[i % len(principals)], verb, path) for i, (verb, path) in enumerate(work)]

    def dict_lookup() -> None:
        get = exact.get
        for verb, path in work:
            get((verb, path))

    def normalize() -> None:
        refused = 0
        for _, path in work:
            try:
                normalize_path(path)
            except PathError:
                refused += 1

    def match() -> None:
        refused = 0
        for verb, path in work:
            try:
                catalog.match(verb, path)
            except PathError:
                refused += 1

    def decide() -> None:
        for principal, verb, path in pairs:
            authorize(principal, verb, path, catalog)

    return {"dict": dict_lookup, "normalize": normalize, "match": match, "authorize": decide}


LABELS = {
    "dict": "dict lookup of exact (verb, path)",
    "normalize": "normalize_path",
    "match": "catalog.match (normalize + trie)",
    "authorize": "authorize (full decision)",
}
"""The steps measured, in order, and how they are printed."""


@dataclass(frozen=True)
class Figures:
    """What one run of the benchmark measured."""

    methods: int
    routes: int
    parse_ms: float
    """Wall time of parsing the generated catalog (once, so noisy)."""
    requests: int
    outcomes: dict[str, int]
    """How many requests of the workload got each decision reason."""
    ns_per_op: dict[str, float]
    """Best nanoseconds per request of each step of :data:`LABELS`."""
    round_seconds: float

    def times_dict(self, step: str) -> float:
        return self.ns_per_op[step] / self.ns_per_op["dict"]

    def times_normalize(self, step: str) -> float:
        return self.ns_per_op[step] / self.ns_per_op["normalize"]


def round_seconds(quick: bool) -> float:
    """How long each step is repeated (the best round is kept)."""
    return (QUICK if quick else FULL).authorize_seconds


def measure(seconds: float) -> Figures:
    """Generate the catalog and the workload, then time each step for about ``seconds``."""
    text, requests = generate_catalog()
    start = time.perf_counter()
    catalog = parse_catalog(text, source="generated")
    load_ms = (time.perf_counter() - start) * 1000
    work = _workload(requests)
    apps = frozenset(f"app{i}" for i in range(5))
    principals = [
        Principal(
            "key",
            "service-key",
            kind="service-key",
            org_id="o",
            methods=frozenset(list(catalog.methods)[::2]),
            apps=apps,
        ),
        Principal("admin", "bearer", roles=frozenset({"admin"})),
        Principal("user", "bearer", roles=frozenset({"user"})),
        Principal("nobody", "bearer"),
    ]
    outcomes: dict[str, int] = {}
    for i, (verb, path) in enumerate(work):
        reason = authorize(principals[i % len(principals)], verb, path, catalog).reason
        outcomes[reason] = outcomes.get(reason, 0) + 1
    routes = sum(len(m.routes) for m in catalog.methods.values())
    timings = {
        name: _best_ns(run, len(work), seconds)
        for name, run in _runners(catalog, work, principals).items()
    }
    return Figures(
        methods=len(catalog.methods),
        routes=routes,
        parse_ms=load_ms,
        requests=len(work),
        outcomes=dict(sorted(outcomes.items())),
        ns_per_op=timings,
        round_seconds=seconds,
    )


def main(quick: bool = False) -> None:
    """Print decisions per second and the ratios against the baselines."""
    figures = measure(round_seconds(quick))
    print(
        f"catalog: {figures.methods} methods, {figures.routes} routes, "
        f"parsed in {figures.parse_ms:.1f} ms"
    )
    print(
        f"workload: {figures.requests} requests; outcomes: "
        + ", ".join(f"{k} {v}" for k, v in figures.outcomes.items())
    )
    print(f"{'step':<34}{'ns/op':>10}{'ops/s':>14}{'x dict':>10}{'x normalize':>13}")
    for name, ns in figures.ns_per_op.items():
        print(
            f"{LABELS[name]:<34}{ns:>10.0f}{1e9 / ns:>14,.0f}"
            f"{figures.times_dict(name):>10.1f}{figures.times_normalize(name):>13.2f}"
        )


def run(budget: Budget) -> Section:
    """The harness's table (``python -m bench authorize``): the same figures as
    :func:`main` prints."""
    figures = measure(budget.authorize_seconds)
    section = Section(
        title="Policy decisions in process (propusk.core.policy.authorize)",
        headers=("step", "ns/op", "ops/s", "x dict", "x normalize"),
    )
    for name, ns in figures.ns_per_op.items():
        section.rows.append(
            (
                LABELS[name],
                f"{ns:.0f}",
                f"{1e9 / ns:,.0f}",
                f"{figures.times_dict(name):.1f}",
                f"{figures.times_normalize(name):.2f}",
            )
        )
    section.notes += [
        f"catalog: {figures.methods} methods, {figures.routes} routes, "
        f"parsed in {figures.parse_ms:.1f} ms",
        f"workload: {figures.requests} requests; outcomes: "
        + ", ".join(f"{k} {v}" for k, v in figures.outcomes.items()),
        f"each step: best round of at least 3 over about {figures.round_seconds:g} s; "
        "'x dict' and 'x normalize' are ns/op over the dict lookup's and normalize_path's",
    ]
    return section


def _cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.authorize", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short rounds (noisier)")
    main(quick=parser.parse_args(argv).quick)


if __name__ == "__main__":
    _cli()
