"""CPU time of the server process and of this process, to tell who was busy.

Client and server share the machine's two cores, so a throughput figure means little
without knowing how much of the CPU each side took. Linux only (``/proc``); elsewhere
the figures are ``None``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["CpuMeter"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far, from ``/proc/<pid>/stat``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are space-separated.
    fields = stat.rpartition(")")[2].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _TICKS


class CpuMeter:
    """Measures CPU-seconds per wall-second of the server (by pid) and of this process."""

    def __init__(self, server_pid: int | None) -> None:
        self._pid = server_pid
        self._wall = 0.0
        self._own = 0.0
        self._server: float | None = None

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._own = time.process_time()
        self._server = process_cpu_seconds(self._pid) if self._pid is not None else None

    def stop(self) -> tuple[float | None, float | None]:
        """(server cores, bench cores) busy on average since :meth:`start`."""
        wall = time.perf_counter() - self._wall
        own = (time.process_time() - self._own) / wall if wall > 0 else None
        server: float | None = None
        if self._pid is not None and self._server is not None and wall > 0:
            now = process_cpu_seconds(self._pid)
            if now is not None:
                server = (now - self._server) / wall
        return server, own
