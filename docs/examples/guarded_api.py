"""A resource API protected by Propusk: every request is authenticated and authorized by
PropuskGuard before a route handler runs. See docs/guard.md.

Run it beside a Propusk server (its ``issuer`` setting must equal PROPUSK_URL):

    PROPUSK_URL=http://127.0.0.1:8080 .venv/bin/uvicorn guarded_api:app --port 9000 \
        --app-dir docs/examples

then call ``GET http://127.0.0.1:9000/games/g1/scores`` with ``Authorization: Bearer <access
token>`` from ``POST /v1/auth/login``.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request

from propusk.core.catalog import parse_catalog
from propusk.guard import BearerToken, Gate, JWKSVerifier, PropuskGuard, principal_of

PROPUSK_URL = os.environ.get("PROPUSK_URL", "http://127.0.0.1:8080").rstrip("/")

# The method catalog: which routes exist, which method each belongs to, which account roles
# hold which methods. Usually a file (load_catalog("methods.toml")); inline here so the
# example is one file. The format is described in docs/method-catalog.md.
CATALOG = parse_catalog(
    """
public = ["GET /health", "GET /docs", "GET /openapi.json"]

[[methods]]
name = "scores.read"
kind = "app"
description = "Read the high scores of one game"
routes = ["GET /games/{app_id}/scores", "HEAD /games/{app_id}/scores"]

[[methods]]
name = "stats.read"
kind = "general"
description = "Statistics over every game"
routes = ["GET /stats"]

[roles]
user = ["scores.read"]
admin = ["*"]
""",
    source="guarded_api.py",
)

app = FastAPI(title="Guarded game API")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


# HEAD is declared in the catalog *and* served here: neither FastAPI nor Propusk derives
# HEAD from GET.
@app.api_route("/games/{app_id}/scores", methods=["GET", "HEAD"])
async def scores(app_id: str, request: Request) -> dict[str, Any]:
    # The guard has already refused anyone who may not be here; this is who came in.
    principal = principal_of(request.scope)
    assert principal is not None  # not a public route, so there is always a principal
    return {
        "game": app_id,
        "scores": [{"player": "ann", "points": 9000}],
        "caller": principal.subject,
        "roles": sorted(principal.roles),
    }


@app.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    principal = principal_of(request.scope)
    return {"games": 1, "caller": principal.subject if principal else None}


# The gate: the catalog, and the credentials this API takes (account tokens, verified
# locally with the server's published keys: no call to Propusk per request).
GATE = Gate(
    catalog=CATALOG,
    verifiers=[
        BearerToken(JWKSVerifier(f"{PROPUSK_URL}/.well-known/jwks.json", issuer=PROPUSK_URL))
    ],
)

# Added last, so it wraps the whole application: nothing reaches a route without a decision.
app.add_middleware(PropuskGuard, gate=GATE)
