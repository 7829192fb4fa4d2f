"""A resource API in a process of its own, guarded in remote mode: what a provider writes
to protect its API with a Propusk server elsewhere (docs/guard.md#remote-mode).

Started by tests/integration/test_remote_guard.py with ``python -m uvicorn``, configured
by environment variables:

- ``REMOTE_PROPUSK_URL``: the Propusk server;
- ``REMOTE_INTROSPECT_EMAIL`` / ``REMOTE_INTROSPECT_PASSWORD``: an account with the
  ``introspect`` role;
- ``REMOTE_CATALOG``: the method catalog file (the same as the server's);
- ``REMOTE_REVOCATION_DELAY``: seconds (default 1);
- ``REMOTE_JWKS``: ``1`` verifies Bearer tokens locally from the JWKS (default), ``0`` by
  introspection.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from propusk.client import PasswordAuth
from propusk.core.catalog import load_catalog
from propusk.guard import PropuskGuard, principal_of, remote_gate

SERVER = os.environ["REMOTE_PROPUSK_URL"].rstrip("/")
# One client for every call to Propusk (connections are reused); closed at shutdown.
HTTP = httpx.AsyncClient(timeout=5.0)


async def caller(request: Request) -> JSONResponse:
    """Every guarded route answers with who called it, as the guard decided."""
    principal = principal_of(request.scope)
    if principal is None:
        return JSONResponse({"subject": None})
    return JSONResponse(
        {
            "subject": principal.subject,
            "method": principal.method,
            "kind": principal.kind,
            "org": principal.org_id,
            "bytes": len(await request.body()),  # the guard replays a body it read
        }
    )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await HTTP.aclose()


routes = [
    Route("/demo/health", caller),
    Route("/demo/apps/{app_id}", caller),
    Route("/demo/apps/{app_id}/reviews", caller),
    Route("/demo/reports", caller),
    Route("/demo/payments/topup", caller, methods=["POST"]),
]
gate = remote_gate(
    SERVER,
    catalog=load_catalog(os.environ["REMOTE_CATALOG"]),
    auth=PasswordAuth(
        SERVER, os.environ["REMOTE_INTROSPECT_EMAIL"], os.environ["REMOTE_INTROSPECT_PASSWORD"]
    ),
    client=HTTP,
    revocation_delay=float(os.environ.get("REMOTE_REVOCATION_DELAY", "1")),
    jwks=os.environ.get("REMOTE_JWKS", "1") == "1",
)
app = PropuskGuard(Starlette(routes=routes, lifespan=lifespan), gate=gate)
