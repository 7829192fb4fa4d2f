"""Forward-auth: nginx ``auth_request``, Traefik ForwardAuth and Envoy ``ext_authz`` ask
here whether a request may pass, and learn who made it.

The original request is described by, in order of preference:
1. the path itself, for Envoy's HTTP ext_authz with ``path_prefix: /v1/authorize``: the
   check request is ``<original method> /v1/authorize<original path>``;
2. ``X-Original-Method`` and ``X-Original-URI`` (nginx);
3. ``X-Forwarded-Method`` and ``X-Forwarded-Uri`` (Traefik).
Only the addresses in ``forward_auth_clients`` (the proxies) may ask; anyone else gets 403,
so end users cannot probe the policy.
"""

from __future__ import annotations

import ipaddress
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from propusk.core.errors import Forbidden, InvalidRequest
from propusk.core.policy import authorize
from propusk.guard.middleware import authenticate, decision_error, error_body, request_view
from propusk.web.deps import ServicesDep

router = APIRouter(tags=["forward-auth"])
log = logging.getLogger("propusk.forward_auth")

PREFIX = "/v1/authorize"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_VERBS = frozenset(METHODS)


def _original(request: Request, raw_path: str) -> tuple[str, str]:
    if raw_path.startswith(PREFIX + "/"):
        query = request.scope.get("query_string", b"").decode("latin-1")
        rest = raw_path[len(PREFIX) :]
        return request.method, f"{rest}?{query}" if query else rest
    headers = request.headers
    method = headers.get("x-original-method") or headers.get("x-forwarded-method")
    uri = headers.get("x-original-uri") or headers.get("x-forwarded-uri")
    if not method or not uri:
        raise InvalidRequest("X-Original-Method and X-Original-URI (or X-Forwarded-*) are required")
    # Verbs are case-sensitive (RFC 9110): "get" is not GET, and matches no route.
    method = method.strip()
    if method not in _VERBS:
        raise InvalidRequest("unsupported original method")
    return method, uri.strip()


def _allowed_caller(request: Request) -> bool:
    nets = request.app.state.forward_auth_clients
    host = request.client.host if request.client else None
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in nets)


async def _check(request: Request, services: ServicesDep) -> Response:
    if not _allowed_caller(request):
        raise Forbidden("This endpoint is for the configured proxies only")
    view = request_view(request.scope)
    method, uri = _original(request, view.path)
    view = type(view)(method=method, path=uri, headers=view.headers, client=view.client)
    principal = await authenticate(services.authenticators, view)
    decision = authorize(principal, method, uri, services.catalog)
    if not decision.allowed:
        log.info("forward-auth: %s %s denied: %s", method, uri[:200], decision.reason)
        status, code, message = decision_error(decision)
        if status == 400:
            # Proxies understand only 2xx, 401 and 403 (nginx turns anything else into a
            # 500), so a path that cannot be judged is simply refused.
            status, code, message = 403, "forbidden", "Not allowed"
        body, raw_headers = error_body(status, code, message)
        extra = {k.decode(): v.decode() for k, v in raw_headers if k == b"www-authenticate"}
        return Response(body, status_code=status, headers=extra, media_type="application/json")
    headers = {"X-Propusk-Method": decision.method or "public"}
    if principal is not None:
        headers["X-Propusk-Subject"] = principal.subject
        headers["X-Propusk-Auth"] = principal.method
        if principal.org_id:
            headers["X-Propusk-Org"] = principal.org_id
    if decision.app_id:
        headers["X-Propusk-App"] = decision.app_id
    return JSONResponse({"allowed": True}, headers=headers)


# Proxies may ask with the original request's method, so every verb is routed; only GET is
# shown in the OpenAPI document (one operation per verb would repeat it seven times).
for _verb in METHODS:
    router.add_api_route(
        PREFIX,
        _check,
        methods=[_verb],
        name=f"authorize_{_verb.lower()}",
        include_in_schema=_verb == "GET",
        summary="Forward-auth decision (nginx, Traefik)",
    )
    router.add_api_route(
        PREFIX + "/{original:path}",
        _check,
        methods=[_verb],
        name=f"authorize_prefixed_{_verb.lower()}",
        include_in_schema=False,
    )
