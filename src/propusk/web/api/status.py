"""Service status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from propusk import __version__
from propusk.web.deps import ServicesDep

router = APIRouter(tags=["status"])


@router.get("/livez")
async def livez() -> dict[str, str]:
    """Liveness: the process answers. No database work, so load balancers can poll it
    cheaply (and benchmarks use it as the bare-endpoint baseline)."""
    return {"status": "ok"}


@router.get("/status")
async def status(services: ServicesDep) -> Any:
    try:
        async with services.db.read() as session:
            await session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # the answer itself reports the failure; details go to the log
        database = "unavailable"
    body = {
        "status": "ok" if database == "ok" else "degraded",
        "version": __version__,
        "database": database,
    }
    return JSONResponse(body, status_code=200 if database == "ok" else 503)
