"""Service status: liveness, readiness and the state of each backend.

- ``/livez``: the process answers (no backend work at all);
- ``/readyz``: ready to take traffic: the database answers and so does Redis when it is
  configured; 503 otherwise (a load balancer takes the node out, and puts it back when
  the backends answer again, without a restart);
- ``/status``: the version and each backend separately (``database``, ``redis``: "ok",
  "unavailable" or "not configured"); 503 when a configured one is down.

The checks are one round trip each, bounded in time; a down backend is logged once per
outage by storage, not once per probe (:mod:`propusk.services.health`).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from propusk import __version__
from propusk.services.health import Report
from propusk.web.deps import ServicesDep

router = APIRouter(tags=["status"])

# Probes must see the state now, never a cached answer.
NO_STORE = {"Cache-Control": "no-store"}


def _answer(body: Mapping[str, str], report: Report) -> JSONResponse:
    if report.ready:
        return JSONResponse(body, headers=NO_STORE)
    retry = {"Retry-After": str(report.retry_after)}
    return JSONResponse(body, status_code=503, headers={**NO_STORE, **retry})


@router.get("/livez")
async def livez() -> dict[str, str]:
    """Liveness: the process answers. No database work, so load balancers can poll it
    cheaply (and benchmarks use it as the bare-endpoint baseline)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: 200 when the database and Redis (if configured) answer, else 503."""
    report = await services.health.check()
    body = {
        "status": "ok" if report.ready else "unavailable",
        "database": report.database,
        "redis": report.redis,
    }
    return _answer(body, report)


@router.get("/status")
async def status(services: ServicesDep) -> JSONResponse:
    """The service's version and the state of each backend (503 when one is down)."""
    report = await services.health.check()
    body = {
        "status": "ok" if report.ready else "degraded",
        "version": __version__,
        "database": report.database,
        "redis": report.redis,
    }
    return _answer(body, report)
