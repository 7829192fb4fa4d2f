"""A stand-in for a Waves Enterprise node's REST API, for trying Propusk in front of a node.

It answers every route of the Waves node catalog (``waves_node.toml``) and checks nothing:
it is the *unprotected* node that nginx (``docs/examples/nginx-waves-node.conf``) puts
behind forward-auth. Each answer says which route was called and which ``X-Propusk-*``
identity headers arrived (and how many body bytes), so a test or a person at a terminal
sees what got through::

    uvicorn --factory propusk.demo.waves_node:create_stand_in_node --port 6862

``GET /node/status`` and ``POST /transactions/calculateFee`` answer in the node's shapes;
nothing here is a node: no blockchain, no keys, no state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from propusk.core.catalog import MethodCatalog, Route, load_catalog
from propusk.demo import WAVES_NODE_CATALOG

__all__ = ["WAVES_NODE_CATALOG", "create_stand_in_node"]

Endpoint = Callable[[Request], Awaitable[Response]]


def _forwarded(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.startswith("x-propusk-") and v}


def _endpoint(route: str, method: str | None) -> Endpoint:
    async def answer(request: Request) -> Response:
        if route == "GET /node/status":
            return JSONResponse({"blockchainHeight": 1, "stateHeight": 1, "isFrozen": False})
        if route == "POST /transactions/calculateFee":
            return JSONResponse({"feeAssetId": None, "feeAmount": 1000000})
        return JSONResponse(
            {
                "standIn": True,
                "route": route,
                "method": method,
                "bodyBytes": len(await request.body()),
                "forwarded": _forwarded(request),
            }
        )

    return answer


def create_stand_in_node(catalog: MethodCatalog | None = None) -> Starlette:
    """The stand-in node: one Starlette route per catalog route (the Waves node catalog
    by default), public routes included."""
    catalog = catalog or load_catalog(WAVES_NODE_CATALOG)
    entries: list[tuple[Route, str | None]] = [(route, None) for route in catalog.public]
    entries += [(route, m.name) for m in catalog.methods.values() for route in m.routes]
    routes = [
        StarletteRoute(route.path, _endpoint(str(route), name), methods=[route.verb])
        for route, name in entries
    ]
    return Starlette(routes=routes)
