"""Managed API keys of an organization (owners and admins manage, every member may list),
and the endpoint secret scanners report leaked keys to."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from propusk.core.errors import Unauthenticated
from propusk.services.api_keys import ApiKeyView, NewApiKey
from propusk.services.scopes import KeyScope, patched_scope
from propusk.web.api.models import ID_TEXT, Ids, OrgId, Request, Str
from propusk.web.deps import BearerPrincipal, OriginDep, ServicesDep

router = APIRouter(tags=["API keys"])

BASE = "/v1/orgs/{org_id}/api-keys"
ApiKeyId = Annotated[str, Path(max_length=32, pattern=ID_TEXT)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _key(v: ApiKeyView) -> dict[str, Any]:
    return {
        "keyId": v.key_id,
        "name": v.name,
        "prefix": v.prefix,
        "last4": v.last4,
        "apps": list(v.apps),
        "methods": list(v.methods),
        "status": v.status,
        "expiresAt": v.expires_at.isoformat() if v.expires_at else None,
        "createdAt": v.created_at.isoformat(),
        "updatedAt": v.updated_at.isoformat(),
        "lastUsedAt": v.last_used_at.isoformat() if v.last_used_at else None,
    }


def _with_secret(new: NewApiKey, status: int) -> JSONResponse:
    return JSONResponse({**_key(new.view), "key": new.key}, status_code=status, headers=NO_STORE)


class CreateApiKey(Request):
    name: Annotated[Str, Field(max_length=255)]
    appIds: Ids | None = None
    allApps: bool = False
    methods: Ids
    expiresAt: AwareDatetime | None = None


@router.post(BASE, status_code=201)
async def create_key(
    org_id: OrgId,
    body: CreateApiKey,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> JSONResponse:
    """Create a key; the answer's ``key`` is the only time the whole key is shown."""
    new = await services.api_keys.create(
        principal.subject,
        org_id,
        body.name,
        KeyScope(body.appIds, body.allApps, body.methods),
        origin,
        expires_at=body.expiresAt,
    )
    return _with_secret(new, 201)


@router.get(BASE)
async def list_keys(
    org_id: OrgId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return {
        "items": [_key(k) for k in await services.api_keys.list_keys(principal.subject, org_id)]
    }


@router.get(BASE + "/{key_id}")
async def get_key(
    org_id: OrgId, key_id: ApiKeyId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return _key(await services.api_keys.get(principal.subject, org_id, key_id))


class UpdateApiKey(Request):
    name: Annotated[Str | None, Field(max_length=255)] = None
    appIds: Ids | None = None
    allApps: bool | None = None
    methods: Ids | None = None
    expiresAt: AwareDatetime | None = None
    noExpiry: bool = False


@router.patch(BASE + "/{key_id}")
async def update_key(
    org_id: OrgId,
    key_id: ApiKeyId,
    body: UpdateApiKey,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    scope = None
    if body.appIds is not None or body.allApps or body.methods is not None:
        current = await services.api_keys.get(principal.subject, org_id, key_id)
        scope = patched_scope(
            body.appIds, body.allApps, body.methods, current.apps, current.methods
        )
    view = await services.api_keys.update(
        principal.subject,
        org_id,
        key_id,
        origin,
        name=body.name,
        scope=scope,
        expires_at=body.expiresAt,
        clear_expiry=body.noExpiry,
    )
    return _key(view)


class Reroll(Request):
    graceSeconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 0


@router.post(BASE + "/{key_id}/reroll")
async def reroll_key(
    org_id: OrgId,
    key_id: ApiKeyId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
    body: Annotated[Reroll | None, Body()] = None,
) -> JSONResponse:
    """A new secret under the same key id, shown once; the old one works for graceSeconds."""
    body = body or Reroll()
    new = await services.api_keys.reroll(
        principal.subject, org_id, key_id, origin, grace_seconds=body.graceSeconds
    )
    return _with_secret(new, 200)


@router.post(BASE + "/{key_id}/revoke")
async def revoke_key(
    org_id: OrgId,
    key_id: ApiKeyId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    return _key(await services.api_keys.revoke(principal.subject, org_id, key_id, origin))


@router.delete(BASE + "/{key_id}", status_code=204)
async def delete_key(
    org_id: OrgId,
    key_id: ApiKeyId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.api_keys.delete(principal.subject, org_id, key_id, origin)
    return Response(status_code=204)


LeakReport = Annotated[
    list[Annotated[Str, Field(max_length=256)] | dict[str, Any]], Field(max_length=1000)
]


@router.post("/v1/api-keys/leaked")
async def leaked(
    body: Annotated[LeakReport, Body()],
    services: ServicesDep,
    origin: OriginDep,
    authorization: Annotated[str | None, Header(max_length=512)] = None,
) -> dict[str, Any]:
    """For secret scanners: a list of found strings (or of objects with a ``token``, as
    GitHub's secret scanning sends them). Matching keys are revoked and audited."""
    expected = services.settings.leak_report_token
    given = (authorization or "").removeprefix("Bearer ").strip()
    if expected is None or not hmac.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        raise Unauthenticated("A valid reporter token is required")
    strings = [item if isinstance(item, str) else str(item.get("token", "")) for item in body]
    results = await services.api_keys.report_leaked(strings, origin)
    return {
        "revoked": sum(1 for _, revoked in results if revoked),
        "results": [{"keyId": key_id or None, "revoked": revoked} for key_id, revoked in results],
    }
