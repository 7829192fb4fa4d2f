"""Service-key management for an organization (owners manage, every member may list)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from propusk.services.service_keys import NewKey, ServiceKeyView
from propusk.web.api.models import (
    NO_STORE,
    CredentialCreate,
    CredentialUpdate,
    Request,
    Str,
    wire,
)
from propusk.web.api.org_items import ItemCall, OrgChange, OrgItems, scope_of_patch

router = APIRouter(prefix="/v1/orgs/{org_id}/service-keys", tags=["service keys"])

Pem = Annotated[Str, Field(max_length=16384)]


def _key(v: ServiceKeyView) -> dict[str, Any]:
    return wire(
        v, "key_id", "name", "apps", "methods", "status", "generated", "public_key_pem",
        "created_at", "updated_at", "last_used_at",
    )  # fmt: skip


keys = OrgItems(router, "", id_name="key_id", id_max_length=64, answer=_key)
KeyChange = Annotated[ItemCall, Depends(keys.change)]


def _with_private(new: NewKey, status: int) -> JSONResponse:
    body = _key(new.view)
    if new.private_der is not None:
        body["privateKey"] = new.private_b64
        body["privateKeyPem"] = new.private_pem
    return JSONResponse(body, status_code=status, headers=NO_STORE)


class CreateKey(CredentialCreate):
    publicKeyPem: Pem | None = None


@router.post("", status_code=201)
async def create_key(org: OrgChange, body: CreateKey) -> JSONResponse:
    """Create a key. Without ``publicKeyPem`` the server generates an RSA-2048 pair and the
    answer carries the private key **once** (``privateKey``: Base64 DER PKCS#8)."""
    new = await org.services.service_keys.create(
        org.actor, org.org_id, body.name, body.scope, org.origin, public_key_pem=body.publicKeyPem
    )
    return _with_private(new, 201)


keys.list("list_keys", lambda s: s.service_keys.list)
keys.get("get_key", lambda s: s.service_keys.get)


class UpdateKey(CredentialUpdate):
    pass  # the shared fields only; a class of its own for its name in the OpenAPI schemas


@router.patch("/{key_id}")
async def update_key(key: KeyChange, body: UpdateKey) -> dict[str, Any]:
    service = key.services.service_keys
    scope = await scope_of_patch(body, service.get, key)
    return _key(await service.update(*key.target, name=body.name, scope=scope))


class RotateKey(Request):
    graceSeconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 0
    publicKeyPem: Pem | None = None


@router.post("/{key_id}/rotate")
async def rotate_key(
    key: KeyChange, body: Annotated[RotateKey | None, Body()] = None
) -> JSONResponse:
    """A new pair under the same key id; the new private key is in the answer once."""
    body = body or RotateKey()
    new = await key.services.service_keys.rotate(
        *key.target, grace_seconds=body.graceSeconds, public_key_pem=body.publicKeyPem
    )
    return _with_private(new, 200)


keys.disable_and_enable(lambda s: s.service_keys.set_status)
keys.delete("delete_key", lambda s: s.service_keys.delete)
