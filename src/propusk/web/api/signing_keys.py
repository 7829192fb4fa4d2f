"""Signing keys of an organization (partners' public keys for signed requests; owners and
admins manage, every member may list) and the published response-signing public key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field, StrictBool, StrictInt

from propusk.core.errors import NotFound
from propusk.services.scopes import KeyScope, patched_scope
from propusk.services.signing_keys import KeyOptions, SigningKeyView
from propusk.web.api.models import Ids, KeyId, OrgId, Request, Str
from propusk.web.deps import BearerPrincipal, OriginDep, ServicesDep

router = APIRouter(prefix="/v1/orgs/{org_id}/signing-keys", tags=["signing keys"])
public_router = APIRouter(prefix="/v1/signing", tags=["signing keys"])

Algs = Annotated[list[Annotated[Str, Field(max_length=64)]], Field(max_length=20)]
Ips = Annotated[list[Annotated[Str, Field(max_length=64)]], Field(max_length=100)]
Pem = Annotated[Str, Field(max_length=16384)]
Name = Annotated[Str, Field(max_length=255)]
Login = Annotated[Str, Field(max_length=128)]
Terminal = Annotated[Str, Field(max_length=64)]
Password = Annotated[Str, Field(max_length=1024)]
# Strict: "yes" or "60" in JSON is a client bug, not a flag or a number (allowLegacy-
# Algorithms must never be switched on by a string that merely looks true).
Window = Annotated[StrictInt, Field(ge=0, le=86400)]
Flag = StrictBool


def _key(v: SigningKeyView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "keyId": v.key_id,
        "name": v.name,
        "keyType": v.key_type,
        "publicKeyPem": v.public_key_pem,
        "login": v.login,
        "terminalId": v.terminal_id,
        "algorithms": list(v.algorithms),
        "apps": list(v.apps),
        "methods": list(v.methods),
        "allowedIps": list(v.allowed_ips),
        "hasPassword": v.has_password,
        "replayWindow": v.replay_window,
        "status": v.status,
        "createdAt": v.created_at.isoformat(),
        "updatedAt": v.updated_at.isoformat(),
        "lastUsedAt": v.last_used_at.isoformat() if v.last_used_at else None,
    }
    if v.warnings:
        body["warnings"] = list(v.warnings)
    return body


class CreateKey(Request):
    name: Name
    publicKeyPem: Pem
    login: Login | None = None
    terminalId: Terminal | None = None
    algorithms: Algs | None = None
    # MD5withRSA / SHA1withRSA are refused unless this is true (audited with a warning).
    allowLegacyAlgorithms: Flag = False
    appIds: Ids | None = None
    allApps: Flag = False
    methods: Ids
    allowedIps: Ips | None = None
    password: Password | None = None
    replayWindow: Window = 0


@router.post("", status_code=201)
async def create_key(
    org_id: OrgId,
    body: CreateKey,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    """Register a partner's public key (RSA >= 2048, ECDSA P-256/P-384 or Ed25519 PEM).
    Without ``algorithms`` the key gets the modern default for its type."""
    view = await services.signing_keys.create(
        principal.subject,
        org_id,
        body.name,
        body.publicKeyPem,
        KeyScope(body.appIds, body.allApps, body.methods),
        origin,
        KeyOptions(
            algorithms=body.algorithms,
            allow_legacy=body.allowLegacyAlgorithms,
            login=body.login,
            terminal_id=body.terminalId,
            allowed_ips=body.allowedIps,
            password=body.password,
            replay_window=body.replayWindow,
        ),
    )
    return _key(view)


@router.get("")
async def list_keys(
    org_id: OrgId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    keys = await services.signing_keys.list(principal.subject, org_id)
    return {"items": [_key(k) for k in keys]}


@router.get("/{key_id}")
async def get_key(
    org_id: OrgId, key_id: KeyId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return _key(await services.signing_keys.get(principal.subject, org_id, key_id))


class UpdateKey(Request):
    name: Name | None = None
    login: Login | None = None
    terminalId: Terminal | None = None
    algorithms: Algs | None = None
    allowLegacyAlgorithms: Flag = False
    appIds: Ids | None = None
    allApps: Flag | None = None
    methods: Ids | None = None
    allowedIps: Ips | None = None
    password: Password | None = None
    removePassword: Flag = False
    replayWindow: Window | None = None


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
        current = await services.signing_keys.get(principal.subject, org_id, key_id)
        scope = patched_scope(
            body.appIds, body.allApps, body.methods, current.apps, current.methods
        )
    view = await services.signing_keys.update(
        principal.subject,
        org_id,
        key_id,
        origin,
        name=body.name,
        scope=scope,
        options=KeyOptions(
            algorithms=body.algorithms,
            allow_legacy=body.allowLegacyAlgorithms,
            login=body.login,
            terminal_id=body.terminalId,
            allowed_ips=body.allowedIps,
            password=body.password,
            replay_window=body.replayWindow,
        ),
        clear_password=body.removePassword,
    )
    return _key(view)


@router.post("/{key_id}/disable")
async def disable_key(
    org_id: OrgId,
    key_id: KeyId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    view = await services.signing_keys.set_status(
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
    view = await services.signing_keys.set_status(
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
    await services.signing_keys.delete(principal.subject, org_id, key_id, origin)
    return Response(status_code=204)


@public_router.get("/public-key")
async def response_public_key(services: ServicesDep) -> Response:
    """The PEM public key that verifies the ``X-Digital-Sign`` of signed responses."""
    if not services.settings.response_signing:
        raise NotFound("Response signing is not enabled on this server")
    pem = await services.response_signing.public_key_pem()
    return Response(pem, media_type="application/x-pem-file")
