"""Forward-auth: nginx ``auth_request``, Traefik ForwardAuth and Envoy ``ext_authz`` ask
here whether a request may pass, and learn who made it.

The original request is described by exactly one of:
1. the path itself, for Envoy's HTTP ext_authz with ``path_prefix: /v1/authorize``: the
   check request is ``<original method> /v1/authorize<original path>``;
2. ``X-Original-Method`` and ``X-Original-URI`` (nginx sets them);
3. ``X-Forwarded-Method`` and ``X-Forwarded-Uri`` (Traefik sets them).
A proxy overwrites the family it sets but may pass the other one through from the client,
so a question carrying both families is refused: a client cannot smuggle in a harmless
URI beside the real one.

Every answer is 200, 401 or 403, because proxies understand nothing else (nginx turns any
other status into a 500); the precise reason is logged. A refusal carries the body of the
route's dialect, as the guard middleware would answer it (docs/dialects.md), with a 403
where the middleware's status would be another one. A 200 always carries every
``X-Propusk-*`` identity header, empty when it does not apply, so a proxy that copies
them overwrites any the client sent itself.

Only the addresses in ``forward_auth_clients`` (the proxies) may ask; anyone else gets 403,
so end users cannot probe the policy.
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from propusk.core.errors import Forbidden, InvalidRequest, PropuskError
from propusk.guard.dialects import Answer, in_propusk_shape, render
from propusk.guard.gate import Gate, Refusal
from propusk.guard.request import RequestView, request_view

router = APIRouter(tags=["forward-auth"])

PREFIX = "/v1/authorize"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_VERBS = frozenset(METHODS)
# Envoy asks with the original verb itself; verbs no catalog route can use are routed too,
# so that they get the promised 403 instead of the framework's 405.
_OTHER_VERBS = [
    "TRACE",
    "CONNECT",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
    "SEARCH",
    "PURGE",
]
IDENTITY_HEADERS = ("X-Propusk-Subject", "X-Propusk-Auth", "X-Propusk-Org", "X-Propusk-App")


def _original(request: Request, raw_path: str) -> tuple[str, str]:
    if raw_path.startswith(PREFIX + "/"):
        if request.method not in _VERBS:
            raise InvalidRequest(detail=f"unsupported original method {request.method[:16]!r}")
        query = request.scope.get("query_string", b"").decode("latin-1")
        rest = raw_path[len(PREFIX) :]
        return request.method, f"{rest}?{query}" if query else rest
    headers = request.headers
    original = (headers.get("x-original-method"), headers.get("x-original-uri"))
    forwarded = (headers.get("x-forwarded-method"), headers.get("x-forwarded-uri"))
    if any(original) and any(forwarded):
        raise InvalidRequest(detail="both X-Original-* and X-Forwarded-* present")
    method, uri = original if any(original) else forwarded
    if not method or not uri:
        raise InvalidRequest(detail="no X-Original-Method/URI or X-Forwarded-Method/Uri")
    # Verbs are case-sensitive (RFC 9110): "get" is not GET.
    method = method.strip()
    if method not in _VERBS:
        raise InvalidRequest(detail=f"unsupported original method {method[:16]!r}")
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


def _deny(gate: Gate, refusal: Refusal) -> Response:
    """The refusal in its dialect, as a 401, 403 or 503 (docs/dialects.md, "Forward-auth")."""
    error = refusal.error
    if error.status not in (401, 403, 503):
        # Proxies understand 200, 401 and 403 (nginx turns the rest into a 500): any other
        # refusal goes out as a 403 — except an outage, a 503 with Retry-After, which a
        # proxy must be able to tell from a refusal (docs/dialects.md). Where the body is
        # Propusk's own JSON it becomes a plain "forbidden", so that its code never
        # contradicts the status; the other dialects keep their body, whose code is what
        # their clients act on (QIWI's 13: retry later; a node's 620 for unparseable
        # claims, which a node sends as 400).
        if in_propusk_shape(error, refusal.dialect):
            error = Forbidden(detail=error.detail)
        answer = render(error, refusal.dialect, now=gate.clock())
        answer = Answer(403, answer.headers, answer.body)
    else:
        # Never qiwi_http_200 here: a 200 is how a proxy learns a request may pass.
        answer = render(error, refusal.dialect, now=gate.clock())
    return Response(answer.body, answer.status, answer.header_dict(), answer.media_type)


async def _check(request: Request) -> Response:
    if not _allowed_caller(request):
        raise Forbidden("This endpoint is for the configured proxies only")
    gate: Gate = request.app.state.gate
    try:
        view = request_view(request.scope)
        method, uri = _original(request, view.path)
    except PropuskError as exc:
        bare = RequestView(request.method, request.url.path, {})
        return _deny(gate, gate.refuse(exc, bare, None, entry="forward-auth"))
    outcome = await gate.check(view.retarget(method, uri), entry="forward-auth")
    if isinstance(outcome, Refusal):
        return _deny(gate, outcome)
    principal, decision = outcome.principal, outcome.decision
    headers = dict.fromkeys(IDENTITY_HEADERS, "")
    headers["X-Propusk-Method"] = decision.method or ""
    headers["X-Propusk-App"] = decision.app_id or ""
    if principal is not None:
        headers["X-Propusk-Subject"] = principal.subject
        headers["X-Propusk-Auth"] = principal.method
        headers["X-Propusk-Org"] = principal.org_id or ""
    return JSONResponse({"allowed": True, "public": principal is None}, headers=headers)


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
router.add_api_route(
    PREFIX + "/{original:path}",
    _check,
    methods=_OTHER_VERBS,
    name="authorize_prefixed_other",
    include_in_schema=False,
)
