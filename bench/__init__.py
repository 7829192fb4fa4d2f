"""Propusk benchmarks: ``python -m bench`` (or ``make bench``).

The machine these run on is shared and has two cores, so absolute times drift from run
to run. Every benchmark therefore measures its own baseline in the same run — the raw
cost of the cryptography the endpoint cannot avoid, and a bare HTTP round trip — and
reports its figures as ratios against it. See ``docs/benchmarks.md`` for recorded results.
"""

from __future__ import annotations

__all__: list[str] = []
