"""The bare baseline of the exchange benchmark: a FastAPI POST endpoint with no Propusk in it.

``POST /bare`` reads the body, parses it as JSON and answers an envelope of the same shape
and about the same size as a successful ``POST /public/auth/`` (a 500-character dummy
token). It runs in its own uvicorn process on 127.0.0.1, started as ``propusk serve``
starts uvicorn (the same uvicorn, uvloop and httptools, the access log at ``info``, no
``Server`` header), so the difference between the two is Propusk's work and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bench.server import HOST, free_port, stop, wait_ready

__all__ = ["BARE_PATH", "BareServer", "app", "running_bare"]

BARE_PATH = "/bare"
_DUMMY_TOKEN = "x" * 500

app = FastAPI()


@app.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@app.post(BARE_PATH)
async def bare(request: Request) -> JSONResponse:
    data = json.loads(await request.body())
    return JSONResponse(
        {
            "code": "OK",
            "message": None,
            "body": {"jwe": _DUMMY_TOKEN, "ttl": 900, "keys": len(data)},
            "timestamp": "2026-01-01T00:00:00.000+00:00",
        },
        headers={"Cache-Control": "no-store"},
    )


@dataclass(frozen=True)
class BareServer:
    base_url: str
    port: int
    pid: int


@contextmanager
def running_bare(startup_timeout: float = 30.0) -> Iterator[BareServer]:
    """``python -m uvicorn bench.bare:app`` on a free port of 127.0.0.1, stopped at the end."""
    root = Path(__file__).resolve().parent.parent
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    proc: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="propusk-bench-bare-") as tmp:
        log = Path(tmp) / "bare.log"
        try:
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "bench.bare:app",
                        "--host",
                        HOST,
                        "--port",
                        str(port),
                        "--log-level",
                        "info",
                        "--no-server-header",
                    ],
                    cwd=root,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            wait_ready(proc, base_url, log, startup_timeout, path="/livez")
            yield BareServer(base_url=base_url, port=port, pid=proc.pid)
        finally:
            if proc is not None:
                stop(proc)
