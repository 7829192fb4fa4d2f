"""API keys: the table, create (the whole key shown once), reroll, revoke.

As with service keys, the secret is only in the POST answer (``no-store``); the service
keeps a peppered digest, so no page could show it again.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from propusk.services.api_keys import NewApiKey
from propusk.web.api.models import KeyId
from propusk.web.console.key_pages import method_groups, scope_from
from propusk.web.console.org_pages import OrgContext, OrgDep, app_names
from propusk.web.console.render import ConsoleError, ConsoleRoute, FormDep, page, redirect, text
from propusk.web.deps import OriginDep, ServicesDep

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def _secret(request: Request, ctx: OrgContext, new: NewApiKey, rerolled: bool) -> Response:
    return page(
        request,
        "api_key_secret.html",
        ctx=ctx,
        key=new.view,
        secret=new.key,
        rerolled=rerolled,
        area="api-keys",
    )


@router.get("/orgs/{org_id}/api-keys", response_class=HTMLResponse)
async def api_keys_page(request: Request, ctx: OrgDep, services: ServicesDep) -> Response:
    keys = await services.api_keys.list_keys(ctx.account_id, ctx.org.id)
    apps = await services.orgs.apps(ctx.account_id, ctx.org.id)
    return page(
        request,
        "api_keys.html",
        ctx=ctx,
        keys=keys,
        apps=apps,
        names=app_names(apps),
        groups=method_groups(services.catalog),
        area="api-keys",
    )


@router.post("/orgs/{org_id}/api-keys")
async def create_api_key(
    request: Request, ctx: OrgDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    new = await services.api_keys.create(
        ctx.account_id, ctx.org.id, text(form, "name", 255), scope_from(form), origin
    )
    return _secret(request, ctx, new, rerolled=False)


@router.get("/orgs/{org_id}/api-keys/{key_id}/reroll", response_class=HTMLResponse)
async def reroll_form(
    request: Request, ctx: OrgDep, key_id: KeyId, services: ServicesDep
) -> Response:
    if not ctx.can("manage_api_keys"):
        raise ConsoleError(403, "error.forbidden")
    key = await services.api_keys.get(ctx.account_id, ctx.org.id, key_id)
    return page(request, "api_key_reroll.html", ctx=ctx, key=key, area="api-keys")


@router.post("/orgs/{org_id}/api-keys/{key_id}/reroll")
async def reroll(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    new = await services.api_keys.reroll(ctx.account_id, ctx.org.id, key_id, origin)
    return _secret(request, ctx, new, rerolled=True)


@router.post("/orgs/{org_id}/api-keys/{key_id}/revoke")
async def revoke(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.api_keys.revoke(ctx.account_id, ctx.org.id, key_id, origin)
    ctx.session.say("ok", "flash.api_key_revoked")
    return redirect(f"/console/orgs/{ctx.org.id}/api-keys")
