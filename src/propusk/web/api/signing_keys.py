"""Signing keys of an organization (partners' public keys for signed requests; owners and
admins manage, every member may list) and the published response-signing public key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field, StrictBool, StrictInt

from propusk.core.errors import NotFound
from propusk.services.scopes import KeyScope
from propusk.services.signing_keys import KeyOptions, SigningKeyView
from propusk.web.api.models import Ids, Name, Request, Str, wire
from propusk.web.api.org_items import ItemCall, OrgChange, OrgItems, scope_of_patch
from propusk.web.deps import ServicesDep

router = APIRouter(prefix="/v1/orgs/{org_id}/signing-keys", tags=["signing keys"])
public_router = APIRouter(prefix="/v1/signing", tags=["signing keys"])

Algs = Annotated[list[Annotated[Str, Field(max_length=64)]], Field(max_length=20)]
Ips = Annotated[list[Annotated[Str, Field(max_length=64)]], Field(max_length=100)]
Pem = Annotated[Str, Field(max_length=16384)]
Login = Annotated[Str, Field(max_length=128)]
Terminal = Annotated[Str, Field(max_length=64)]
Password = Annotated[Str, Field(max_length=1024)]
# Strict: "yes" or "60" in JSON is a client bug, not a flag or a number (allowLegacy-
# Algorithms must never be switched on by a string that merely looks true).
Window = Annotated[StrictInt, Field(ge=0, le=86400)]
Flag = StrictBool


def _key(v: SigningKeyView) -> dict[str, Any]:
    body = wire(
        v, "key_id", "name", "key_type", "public_key_pem", "login", "terminal_id",
        "algorithms", "apps", "methods", "allowed_ips", "has_password", "replay_window",
        "status", "created_at", "updated_at", "last_used_at",
    )  # fmt: skip
    if v.warnings:
        body["warnings"] = list(v.warnings)
    return body


def _options(body: CreateKey | UpdateKey) -> KeyOptions:
    return KeyOptions(
        algorithms=body.algorithms, allow_legacy=body.allowLegacyAlgorithms, login=body.login,
        terminal_id=body.terminalId, allowed_ips=body.allowedIps, password=body.password,
        replay_window=body.replayWindow,
    )  # fmt: skip


keys = OrgItems(router, "", id_name="key_id", id_max_length=64, answer=_key)
KeyChange = Annotated[ItemCall, Depends(keys.change)]


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
async def create_key(org: OrgChange, body: CreateKey) -> dict[str, Any]:
    """Register a partner's public key (RSA >= 2048, ECDSA P-256/P-384 or Ed25519 PEM).
    Without ``algorithms`` the key gets the modern default for its type."""
    view = await org.services.signing_keys.create(
        org.actor,
        org.org_id,
        body.name,
        body.publicKeyPem,
        KeyScope(body.appIds, body.allApps, body.methods),
        org.origin,
        _options(body),
    )
    return _key(view)


keys.list("list_keys", lambda s: s.signing_keys.list)
keys.get("get_key", lambda s: s.signing_keys.get)


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
async def update_key(key: KeyChange, body: UpdateKey) -> dict[str, Any]:
    service = key.services.signing_keys
    scope = await scope_of_patch(body, service.get, key)
    view = await service.update(
        *key.target,
        name=body.name,
        scope=scope,
        options=_options(body),
        clear_password=body.removePassword,
    )
    return _key(view)


keys.disable_and_enable(lambda s: s.signing_keys.set_status)
keys.delete("delete_key", lambda s: s.signing_keys.delete)


@public_router.get("/public-key")
async def response_public_key(services: ServicesDep) -> Response:
    """The PEM public key that verifies the ``X-Digital-Sign`` of signed responses."""
    if not services.settings.response_signing:
        raise NotFound("Response signing is not enabled on this server")
    pem = await services.response_signing.public_key_pem()
    return Response(pem, media_type="application/x-pem-file")
