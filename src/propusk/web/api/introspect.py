"""RFC 7662 token introspection, for resource servers outside the trust boundary.

The caller authenticates with an account access token holding the ``introspect`` (or
``admin``) role. Any token that does not verify — unknown, expired, revoked, garbage —
is simply ``{"active": false}``, as the RFC asks; the reason is logged, not returned.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from propusk.core.cnf import cnf_claim
from propusk.core.errors import Forbidden, InvalidRequest, PropuskError
from propusk.core.principals import Principal
from propusk.web.deps import BearerPrincipal, ServicesDep

router = APIRouter(tags=["introspection"])
log = logging.getLogger("propusk.introspect")


def _describe(principal: Principal) -> dict[str, Any]:
    body: dict[str, Any] = {
        "active": True,
        "sub": principal.subject,
        "exp": principal.expires_at,
        "jti": principal.token_id,
        "token_use": principal.method,
    }
    if principal.method == "service-key":
        body.update(
            client_id=principal.subject,
            org=principal.org_id,
            scope=" ".join(sorted(principal.methods or ())),
            apps=sorted(principal.apps or ()),
        )
    else:
        body.update(roles=sorted(principal.roles), scope=" ".join(sorted(principal.roles)))
    if principal.cert_thumbprint is not None:
        # RFC 8705 section 3.2: the resource server checks the binding itself.
        body["cnf"] = cnf_claim(principal.cert_thumbprint)
    return body


@router.post("/v1/introspect")
async def introspect(
    request: Request, caller: BearerPrincipal, services: ServicesDep
) -> JSONResponse:
    if not (caller.has_role("introspect") or caller.has_role("admin")):
        raise Forbidden("Introspection needs the introspect role")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise InvalidRequest("The body must be application/x-www-form-urlencoded")
    try:
        form = parse_qs((await request.body()).decode("ascii"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("The body is not a valid form") from exc
    tokens = form.get("token", [])
    if len(tokens) != 1 or not tokens[0]:
        raise InvalidRequest("token is required")
    token = tokens[0]
    verifier = services.sessions if token.count(".") == 2 else services.exchange
    try:
        principal = await verifier.verify(token)
    except PropuskError as exc:
        log.info("introspection: inactive token (%s)", exc.detail or exc.code)
        return JSONResponse({"active": False}, headers={"Cache-Control": "no-store"})
    return JSONResponse(_describe(principal), headers={"Cache-Control": "no-store"})
