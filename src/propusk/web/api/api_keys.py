"""Managed API keys of an organization (owners and admins manage, every member may list),
and the endpoint secret scanners report leaked keys to."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from propusk.core.errors import Unauthenticated
from propusk.services.api_keys import ApiKeyView, NewApiKey
from propusk.web.api.models import (
    NO_STORE,
    CredentialCreate,
    CredentialUpdate,
    Request,
    Str,
    wire,
)
from propusk.web.api.org_items import ItemCall, OrgChange, OrgItems, scope_of_patch
from propusk.web.deps import OriginDep, ServicesDep

router = APIRouter(tags=["API keys"])

BASE = "/v1/orgs/{org_id}/api-keys"


def _key(v: ApiKeyView) -> dict[str, Any]:
    return wire(
        v, "key_id", "name", "prefix", "last4", "apps", "methods", "status", "expires_at",
        "created_at", "updated_at", "last_used_at",
    )  # fmt: skip


keys = OrgItems(router, BASE, id_name="key_id", id_max_length=32, answer=_key)
KeyChange = Annotated[ItemCall, Depends(keys.change)]


def _with_secret(new: NewApiKey, status: int) -> JSONResponse:
    return JSONResponse({**_key(new.view), "key": new.key}, status_code=status, headers=NO_STORE)


class CreateApiKey(CredentialCreate):
    expiresAt: AwareDatetime | None = None


@router.post(BASE, status_code=201)
async def create_key(org: OrgChange, body: CreateApiKey) -> JSONResponse:
    """Create a key; the answer's ``key`` is the only time the whole key is shown."""
    new = await org.services.api_keys.create(
        org.actor, org.org_id, body.name, body.scope, org.origin, expires_at=body.expiresAt
    )
    return _with_secret(new, 201)


keys.list("list_keys", lambda s: s.api_keys.list_keys)
keys.get("get_key", lambda s: s.api_keys.get)


class UpdateApiKey(CredentialUpdate):
    expiresAt: AwareDatetime | None = None
    noExpiry: bool = False


@router.patch(BASE + "/{key_id}")
async def update_key(key: KeyChange, body: UpdateApiKey) -> dict[str, Any]:
    service = key.services.api_keys
    view = await service.update(
        *key.target,
        name=body.name,
        scope=await scope_of_patch(body, service.get, key),
        expires_at=body.expiresAt,
        clear_expiry=body.noExpiry,
    )
    return _key(view)


class Reroll(Request):
    graceSeconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 0


@router.post(BASE + "/{key_id}/reroll")
async def reroll_key(key: KeyChange, body: Annotated[Reroll | None, Body()] = None) -> JSONResponse:
    """A new secret under the same key id, shown once; the old one works for graceSeconds."""
    body = body or Reroll()
    new = await key.services.api_keys.reroll(*key.target, grace_seconds=body.graceSeconds)
    return _with_secret(new, 200)


keys.action("revoke", "revoke_key", lambda s: s.api_keys.revoke)
keys.delete("delete_key", lambda s: s.api_keys.delete)


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
