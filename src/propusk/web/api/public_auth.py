"""``POST /public/auth/``: the service-key exchange, in the original service's envelope.

Every answer of that API is ``{"code": "OK"|"ERROR", "message", "body", "timestamp"}``,
errors included, so this route reads its body itself instead of relying on the framework's
validation (which would answer in Propusk's own ``{"error", "message"}`` shape).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from propusk.core.catalog import Dialect
from propusk.core.errors import InvalidRequest, PropuskError, ServiceUnavailable
from propusk.services.exchange import server_time
from propusk.web.deps import OriginDep, ServicesDep
from propusk.web.mtls import binding_thumbprint

router = APIRouter(tags=["service keys"])
log = logging.getLogger("propusk.exchange")

FIELDS = ("keyId", "timestamp", "signature")
MAX_FIELD = 4096


def envelope(
    now_iso: str,
    *,
    body: Any = None,
    message: str | None = None,
    status: int = 200,
    retry_after: int | None = None,
) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(
        {
            "code": "OK" if status == 200 else "ERROR",
            "message": message,
            "body": body,
            "timestamp": now_iso,
        },
        status_code=status,
        headers=headers,
    )


def _fields(raw: bytes) -> tuple[str, str, str]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("The body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object")
    if "companyId" in data and "keyId" not in data:
        raise InvalidRequest(
            "companyId is no longer accepted: send keyId and sign keyId + timestamp"
        )
    values = []
    for name in FIELDS:
        value = data.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_FIELD:
            raise InvalidRequest(f"{name} is required and must be a non-empty string")
        values.append(value)
    return values[0], values[1], values[2]


async def exchange(request: Request, services: ServicesDep, origin: OriginDep) -> JSONResponse:
    now = server_time(services.clock.now())
    try:
        key_id, timestamp, signature = _fields(await request.body())
        bound_to = await binding_thumbprint(request)  # RFC 8705, when enabled
        grant = await services.exchange.exchange(
            key_id, timestamp, signature, origin, cert_thumbprint=bound_to
        )
    except PropuskError as exc:
        # An outage is logged once, when it begins (storage.faults), not once per request.
        if exc.detail and not isinstance(exc, ServiceUnavailable):
            log.info("exchange refused: %s (%s)", exc.code, exc.detail)
        # An outage (503) and too many attempts (429) keep their status and Retry-After:
        # a client must be able to tell "try again" from "your request is wrong" (400).
        status = exc.status if exc.status in (400, 401, 413, 429, 503) else 400
        retry = getattr(exc, "retry_after", None)
        return envelope(
            now,
            message=exc.message,
            status=status,
            retry_after=retry if isinstance(retry, int) else None,
        )
    return envelope(now, body={"jwe": grant.jwe, "ttl": grant.ttl})


def dialect_for(scope: Scope) -> Dialect:
    """Errors raised before the route runs (a body over the size cap) answer in this API's
    envelope on its paths, and in Propusk's own everywhere else."""
    return "rustore" if str(scope.get("path", "")).startswith("/public/") else "propusk"


async def method_not_allowed(services: ServicesDep) -> JSONResponse:
    return envelope(server_time(services.clock.now()), message="Method Not Allowed", status=405)


# Real clients call it with and without the trailing slash.
for _path in ("/public/auth/", "/public/auth"):
    router.add_api_route(
        _path,
        exchange,
        methods=["POST"],
        name=f"exchange{'_slash' if _path.endswith('/') else ''}",
        include_in_schema=_path.endswith("/"),
        summary="Exchange a signed keyId + timestamp for a 900-second token",
    )
    router.add_api_route(
        _path,
        method_not_allowed,
        methods=["GET", "PUT", "PATCH", "DELETE"],
        name=f"exchange_other{'_slash' if _path.endswith('/') else ''}",
        include_in_schema=False,
    )
