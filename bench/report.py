"""Tables of results: one section per benchmark, as a rich table or as Markdown."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich import box
from rich.console import Console
from rich.table import Table

from bench.stats import Sample, ratio

__all__ = [
    "Section",
    "drift_notes",
    "error_notes",
    "headers",
    "rate_drift_notes",
    "render",
    "sample_row",
]

DASH = "-"


@dataclass
class Section:
    """One benchmark's table: a header row, rows of text cells, and notes under it."""

    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(note.startswith("ERROR") for note in self.notes)


def _num(value: float | None, spec: str) -> str:
    if value is None or math.isnan(value):
        return DASH
    return format(value, spec)


def headers(ratio_headers: Sequence[str], latency_header: str, cpu_header: str) -> tuple[str, ...]:
    """Column titles matching :func:`sample_row`."""
    return (
        "measurement",
        "conc.",
        "n",
        "per s",
        *ratio_headers,
        "p50 ms",
        "p99 ms",
        latency_header,
        "CPU ms/op",
        cpu_header,
        "server CPU",
        "bench CPU",
        "errors",
    )


def sample_row(
    sample: Sample,
    *,
    rate_baselines: Sequence[float | None],
    latency_baseline: float | None,
    cpu_baseline: float | None,
) -> tuple[str, ...]:
    """A row: the rate as a ratio of each baseline rate, p50 as a ratio of a baseline
    latency, CPU per operation as a ratio of a baseline operation's. The "server CPU" and
    "bench CPU" columns are cores busy on average (2.00 = both cores of this machine)."""
    rates = [DASH if b is None else _num(ratio(sample.rate, b), ".2f") for b in rate_baselines]
    p50_ratio = None if latency_baseline is None else ratio(sample.p50, latency_baseline)
    cpu_ratio = None if cpu_baseline is None else ratio(sample.cpu_per_op, cpu_baseline)
    return (
        sample.name,
        str(sample.concurrency),
        str(sample.ok),
        _num(sample.rate, ",.1f"),
        *rates,
        _num(sample.p50 * 1000, ".2f"),
        _num(sample.p99 * 1000, ".2f"),
        _num(p50_ratio, ".2f"),
        _num(sample.cpu_per_op * 1000, ".2f"),
        _num(cpu_ratio, ".2f"),
        _num(sample.server_cpu, ".2f"),
        _num(sample.bench_cpu, ".2f"),
        str(sample.errors),
    )


DRIFT_WARNING = 0.15


def drift_notes(before: Sample, after: Sample) -> list[str]:
    """A baseline is measured again after the loads: if it moved, the machine's load
    changed during the run and the ratios are less trustworthy."""
    return rate_drift_notes(before.name, before.rate, after.rate)


def rate_drift_notes(name: str, before: float, after: float) -> list[str]:
    """:func:`drift_notes` for a baseline known only by its two rates."""
    change = ratio(after, before) - 1
    text = f"baseline drift over the run: {change:+.0%} ({name} measured again at the end)"
    if math.isnan(change) or abs(change) > DRIFT_WARNING:
        text += "; WARNING: the machine's load changed, compare ratios with care"
    return [text]


def error_notes(samples: Sequence[Sample]) -> list[str]:
    return [
        f"ERROR {s.name} (conc. {s.concurrency}): {s.errors} failed; first: {s.first_error}"
        for s in samples
        if s.errors
    ]


def _markdown(section: Section) -> str:
    lines = [f"### {section.title}", ""]
    if not section.rows:  # skipped or failed before measuring: only the notes say why
        lines.extend(f"- {note}" for note in section.notes)
        return "\n".join(lines) + "\n"
    lines.append("| " + " | ".join(section.headers) + " |")
    lines.append(
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(section.headers))) + "|"
    )
    lines.extend("| " + " | ".join(row) + " |" for row in section.rows)
    if section.notes:
        lines.append("")
        lines.extend(f"- {note}" for note in section.notes)
    return "\n".join(lines) + "\n"


def render(section: Section, console: Console, *, markdown: bool = False) -> None:
    if markdown:
        console.print(_markdown(section), markup=False, highlight=False, soft_wrap=True)
        return
    if not section.rows:  # skipped or failed before measuring: only the notes say why
        console.print(section.title, markup=False, highlight=False)
        for note in section.notes:
            console.print(f"  {note}", markup=False, highlight=False)
        console.print()
        return
    table = Table(title=section.title, box=box.SIMPLE_HEAD, title_justify="left")
    for index, header in enumerate(section.headers):
        if index == 0:
            table.add_column(header, justify="left", no_wrap=True)
        else:
            table.add_column(header, justify="right")
    for row in section.rows:
        table.add_row(*row)
    console.print(table)
    for note in section.notes:
        console.print(f"  {note}", markup=False, highlight=False)
    console.print()
