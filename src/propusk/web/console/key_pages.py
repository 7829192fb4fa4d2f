"""Service keys: the table, "Create key", the private key shown once, rotate, disable,
enable, delete.

The private key exists only in the answer to the POST that made it (the service keeps
just the public half): that answer is a page of its own with ``Cache-Control: no-store``,
and no GET renders it, so it cannot be shown again — reloading asks the browser to post
again, which would make another key, not repeat this one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from propusk.core.catalog import MethodCatalog
from propusk.core.errors import InvalidRequest
from propusk.services.orgs import Action
from propusk.services.scopes import KeyScope
from propusk.services.service_keys import NewKey
from propusk.web.api.models import KeyId
from propusk.web.console.org_pages import OrgContext, OrgDep, app_names
from propusk.web.console.render import (
    ConsoleError,
    ConsoleRoute,
    FormDep,
    page,
    redirect,
    text,
    texts,
)
from propusk.web.deps import OriginDep, ServicesDep

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def scope_from(form: FormData) -> KeyScope:
    """Apps and methods as the form posts them: ``app`` checkboxes or ``all_apps``, and
    ``method`` checkboxes."""
    all_apps = form.get("all_apps") == "on"
    apps = texts(form, "app")
    return KeyScope(None if all_apps else apps, all_apps, texts(form, "method"))


def method_groups(catalog: MethodCatalog) -> dict[str, list[tuple[str, str]]]:
    """Catalog methods by kind (``app`` then ``general``), each (name, description)."""
    groups: dict[str, list[tuple[str, str]]] = {"app": [], "general": []}
    for method in sorted(catalog.methods.values(), key=lambda m: m.name):
        groups.setdefault(method.kind, []).append((method.name, method.description))
    return groups


def _need(ctx: OrgContext, action: Action) -> None:
    # The service refuses these too; this only spares the person a form they cannot use.
    if not ctx.can(action):
        raise ConsoleError(403, "error.forbidden")


def _secret_page(request: Request, ctx: OrgContext, new: NewKey, rotated: bool) -> Response:
    return page(
        request,
        "key_secret.html",
        ctx=ctx,
        key=new.view,
        private_b64=new.private_b64,
        private_pem=new.private_pem,
        rotated=rotated,
        area="service-keys",
    )


@router.get("/orgs/{org_id}/service-keys", response_class=HTMLResponse)
async def keys_page(
    request: Request,
    ctx: OrgDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=255)] = "",
) -> Response:
    keys = await services.service_keys.list(ctx.account_id, ctx.org.id)
    needle = q.strip().lower()
    if needle:
        keys = [k for k in keys if needle in k.name.lower() or needle in k.key_id]
    apps = app_names(await services.orgs.apps(ctx.account_id, ctx.org.id))
    return page(request, "keys.html", ctx=ctx, keys=keys, apps=apps, q=q, area="service-keys")


@router.get("/orgs/{org_id}/service-keys/new", response_class=HTMLResponse)
async def new_key_form(request: Request, ctx: OrgDep, services: ServicesDep) -> Response:
    _need(ctx, "manage_keys")
    apps = await services.orgs.apps(ctx.account_id, ctx.org.id)
    return page(
        request,
        "key_new.html",
        ctx=ctx,
        apps=apps,
        groups=method_groups(services.catalog),
        area="service-keys",
    )


@router.post("/orgs/{org_id}/service-keys")
async def create_key(
    request: Request, ctx: OrgDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    new = await services.service_keys.create(
        ctx.account_id, ctx.org.id, text(form, "name", 255), scope_from(form), origin
    )
    return _secret_page(request, ctx, new, rotated=False)


@router.get("/orgs/{org_id}/service-keys/{key_id}/rotate", response_class=HTMLResponse)
async def rotate_form(
    request: Request, ctx: OrgDep, key_id: KeyId, services: ServicesDep
) -> Response:
    _need(ctx, "manage_keys")
    key = await services.service_keys.get(ctx.account_id, ctx.org.id, key_id)
    return page(request, "key_rotate.html", ctx=ctx, key=key, area="service-keys")


@router.post("/orgs/{org_id}/service-keys/{key_id}/rotate")
async def rotate_key(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    new = await services.service_keys.rotate(ctx.account_id, ctx.org.id, key_id, origin)
    return _secret_page(request, ctx, new, rotated=True)


@router.post("/orgs/{org_id}/service-keys/{key_id}/disable")
async def disable_key(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.service_keys.set_status(ctx.account_id, ctx.org.id, key_id, "disabled", origin)
    ctx.session.say("ok", "flash.key_disabled")
    return redirect(f"/console/orgs/{ctx.org.id}/service-keys")


@router.post("/orgs/{org_id}/service-keys/{key_id}/enable")
async def enable_key(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.service_keys.set_status(ctx.account_id, ctx.org.id, key_id, "active", origin)
    ctx.session.say("ok", "flash.key_enabled")
    return redirect(f"/console/orgs/{ctx.org.id}/service-keys")


@router.get("/orgs/{org_id}/service-keys/{key_id}/delete", response_class=HTMLResponse)
async def delete_form(
    request: Request, ctx: OrgDep, key_id: KeyId, services: ServicesDep
) -> Response:
    _need(ctx, "manage_keys")
    key = await services.service_keys.get(ctx.account_id, ctx.org.id, key_id)
    return page(request, "key_delete.html", ctx=ctx, key=key, area="service-keys")


@router.post("/orgs/{org_id}/service-keys/{key_id}/delete")
async def delete_key(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    key = await services.service_keys.get(ctx.account_id, ctx.org.id, key_id)
    if text(form, "confirm_name", 255) != key.name:
        raise InvalidRequest("Type the key's name exactly to delete it")
    await services.service_keys.delete(ctx.account_id, ctx.org.id, key_id, origin)
    ctx.session.say("ok", "flash.key_deleted")
    return redirect(f"/console/orgs/{ctx.org.id}/service-keys")
