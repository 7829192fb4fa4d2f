"""The method catalog, as the provider declared it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from propusk.web.deps import BearerPrincipal, ServicesDep

router = APIRouter(tags=["methods"])


@router.get("/v1/methods")
async def methods(principal: BearerPrincipal, services: ServicesDep) -> dict[str, Any]:
    """The catalog, for signed-in accounts (the console lists it when creating keys).
    Anonymous callers learn nothing about which methods and routes exist."""
    catalog = services.catalog
    return {
        "items": [
            {
                "name": m.name,
                "kind": m.kind,
                "description": m.description,
                "routes": [str(r) for r in m.routes],
            }
            for m in sorted(catalog.methods.values(), key=lambda m: m.name)
        ]
    }
