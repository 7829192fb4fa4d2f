"""Service-key management for an organization (owners manage, every member may list)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from propusk.services.scopes import KeyScope, patched_scope
from propusk.services.service_keys import NewKey, ServiceKeyView
from propusk.web.api.models import Ids, KeyId, OrgId, Request, Str
from propusk.web.deps import BearerPrincipal, OriginDep, ServicesDep

router = APIRouter(prefix="/v1/orgs/{org_id}/service-keys", tags=["service keys"])

Pem = Annotated[Str, Field(max_length=16384)]
# The private key is in the answer: no cache may keep a copy.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _key(v: ServiceKeyView) -> dict[str, Any]:
    return {
        "keyId": v.key_id,
        "name": v.name,
        "apps": list(v.apps),
        "methods": list(v.methods),
        "status": v.status,
        "generated": v.generated,
        "publicKeyPem": v.public_key_pem,
        "createdAt": v.created_at.isoformat(),
        "updatedAt": v.updated_at.isoformat(),
        "lastUsedAt": v.last_used_at.isoformat() if v.last_used_at else None,
    }


def _with_private(new: NewKey, status: int) -> JSONResponse:
    body = _key(new.view)
    if new.private_der is not None:
        body["privateKey"] = new.private_b64
        body["privateKeyPem"] = new.private_pem
    return JSONResponse(body, status_code=status, headers=NO_STORE)


class CreateKey(Request):
    name: Annotated[Str, Field(max_length=255)]
    appIds: Ids | None = None
    allApps: bool = False
    methods: Ids
    publicKeyPem: Pem | None = None


@router.post("", status_code=201)
async def create_key(
    org_id: OrgId,
    body: CreateKey,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> JSONResponse:
    """Create a key. Without ``publicKeyPem`` the server generates an RSA-2048 pair and the
    answer carries the private key **once** (``privateKey``: Base64 DER PKCS#8)."""
    new = await services.service_keys.create(
        principal.subject,
        org_id,
        body.name,
        KeyScope(body.appIds, body.allApps, body.methods),
        origin,
        public_key_pem=body.publicKeyPem,
    )
    return _with_private(new, 201)


@router.get("")
async def list_keys(
    org_id: OrgId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    keys = await services.service_keys.list(principal.subject, org_id)
    return {"items": [_key(k) for k in keys]}


@router.get("/{key_id}")
async def get_key(
    org_id: OrgId, key_id: KeyId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return _key(await services.service_keys.get(principal.subject, org_id, key_id))


class UpdateKey(Request):
    name: Annotated[Str | None, Field(max_length=255)] = None
    appIds: Ids | None = None
    allApps: bool | None = None
    methods: Ids | None = None


@router.patch("/{key_id}")
async def update_key(
    org_id: OrgId,
    key_id: KeyId,
    body: UpdateKey,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    scope = None
    if body.appIds is not None or body.allApps or body.methods is not None:
        current = await services.service_keys.get(principal.subject, org_id, key_id)
        scope = patched_scope(
            body.appIds, body.allApps, body.methods, current.apps, current.methods
        )
    view = await services.service_keys.update(
        principal.subject, org_id, key_id, origin, name=body.name, scope=scope
    )
    return _key(view)


class RotateKey(Request):
    graceSeconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 0
    publicKeyPem: Pem | None = None


@router.post("/{key_id}/rotate")
async def rotate_key(
    org_id: OrgId,
    key_id: KeyId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
    body: Annotated[RotateKey | None, Body()] = None,
) -> JSONResponse:
    """A new pair under the same key id; the new private key is in the answer once."""
    body = body or RotateKey()
    new = await services.service_keys.rotate(
        principal.subject,
        org_id,
        key_id,
        origin,
        grace_seconds=body.graceSeconds,
        public_key_pem=body.publicKeyPem,
    )
    return _with_private(new, 200)


@router.post("/{key_id}/disable")
async def disable_key(
    org_id: OrgId,
    key_id: KeyId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    view = await services.service_keys.set_status(
        principal.subject, org_id, key_id, "disabled", origin
    )
    return _key(view)


@router.post("/{key_id}/enable")
async def enable_key(
    org_id: OrgId,
    key_id: KeyId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    view = await services.service_keys.set_status(
        principal.subject, org_id, key_id, "active", origin
    )
    return _key(view)


@router.delete("/{key_id}", status_code=204)
async def delete_key(
    org_id: OrgId,
    key_id: KeyId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.service_keys.delete(principal.subject, org_id, key_id, origin)
    return Response(status_code=204)
