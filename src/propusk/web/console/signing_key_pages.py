"""Signing keys: partners' public keys for signed requests (X-Digital-Sign, RFC 9421).

Nothing secret is issued here: the partner keeps its private key and the console takes
the public half, pasted or uploaded. The legacy algorithms (MD5withRSA, SHA1withRSA) sit
behind a warning and an explicit "enable legacy" box; the service refuses them otherwise.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData, UploadFile

from propusk.core import digital_sign
from propusk.core.errors import InvalidRequest
from propusk.services.signing_keys import KeyOptions
from propusk.web.api.models import KeyId
from propusk.web.console.key_pages import method_groups, scope_from
from propusk.web.console.org_pages import OrgDep, app_names
from propusk.web.console.render import ConsoleRoute, FormDep, page, redirect, text, texts
from propusk.web.deps import OriginDep, ServicesDep

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

MAX_PEM = 16384
MODERN = tuple(n for n in digital_sign.ALGORITHMS if n not in digital_sign.LEGACY)
LEGACY = tuple(n for n in digital_sign.ALGORITHMS if n in digital_sign.LEGACY)


async def _public_key(form: FormData) -> str:
    """The pasted PEM, or else the uploaded file's text."""
    pasted = text(form, "public_key", MAX_PEM)
    if pasted:
        return pasted
    upload = form.get("public_key_file")
    if isinstance(upload, UploadFile):
        data = await upload.read(MAX_PEM + 1)
        if len(data) > MAX_PEM:
            raise InvalidRequest("The public key file is too large")
        try:
            return data.decode("ascii").strip()
        except UnicodeDecodeError:
            raise InvalidRequest("The public key file is not PEM text") from None
    raise InvalidRequest("Paste the public key or choose its file")


@router.get("/orgs/{org_id}/signing-keys", response_class=HTMLResponse)
async def signing_keys_page(request: Request, ctx: OrgDep, services: ServicesDep) -> Response:
    keys = await services.signing_keys.list(ctx.account_id, ctx.org.id)
    apps = await services.orgs.apps(ctx.account_id, ctx.org.id)
    return page(
        request,
        "signing_keys.html",
        ctx=ctx,
        keys=keys,
        apps=apps,
        names=app_names(apps),
        groups=method_groups(services.catalog),
        modern=MODERN,
        legacy=LEGACY,
        area="signing-keys",
    )


@router.post("/orgs/{org_id}/signing-keys")
async def create_signing_key(
    request: Request, ctx: OrgDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    networks = [n for n in text(form, "allowed_ips", 4096).replace(",", " ").split() if n]
    view = await services.signing_keys.create(
        ctx.account_id,
        ctx.org.id,
        text(form, "name", 255),
        await _public_key(form),
        scope_from(form),
        origin,
        KeyOptions(
            algorithms=texts(form, "algorithm") or None,
            allow_legacy=form.get("allow_legacy") == "on",
            allowed_ips=networks or None,
            # How partners of the original XML API name themselves (docs/signing-keys.md).
            login=text(form, "login", 128) or None,
            terminal_id=text(form, "terminal_id", 64) or None,
        ),
    )
    # A legacy algorithm enabled on purpose still deserves the service's warning.
    ctx.session.say("error" if view.warnings else "ok",
                    " ".join(view.warnings) or "flash.signing_key_added")  # fmt: skip
    return redirect(f"/console/orgs/{ctx.org.id}/signing-keys")


@router.post("/orgs/{org_id}/signing-keys/{key_id}/disable")
async def disable(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.signing_keys.set_status(ctx.account_id, ctx.org.id, key_id, "disabled", origin)
    ctx.session.say("ok", "flash.key_disabled")
    return redirect(f"/console/orgs/{ctx.org.id}/signing-keys")


@router.post("/orgs/{org_id}/signing-keys/{key_id}/enable")
async def enable(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.signing_keys.set_status(ctx.account_id, ctx.org.id, key_id, "active", origin)
    ctx.session.say("ok", "flash.key_enabled")
    return redirect(f"/console/orgs/{ctx.org.id}/signing-keys")


@router.post("/orgs/{org_id}/signing-keys/{key_id}/delete")
async def delete(
    request: Request,
    ctx: OrgDep,
    key_id: KeyId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.signing_keys.delete(ctx.account_id, ctx.org.id, key_id, origin)
    ctx.session.say("ok", "flash.key_deleted")
    return redirect(f"/console/orgs/{ctx.org.id}/signing-keys")
