"""Certificate requests and client certificates: upload a CSR, see its status; operators
approve or reject; download the certificate and the CA chain; revoke.

The certificate service takes the caller's verified :class:`Principal` (server admins
are CA operators for every organization), which the session holds for the request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData, UploadFile

from propusk.core.csr import MAX_CSR_BYTES, ValidCsr
from propusk.core.errors import InvalidRequest, NotFound
from propusk.core.pki import REASONS
from propusk.core.principals import Principal
from propusk.web.api.certificates import CHAIN_TYPE, PEM_TYPE, _csr_from_body
from propusk.web.api.models import ID_TEXT
from propusk.web.console.key_pages import method_groups, scope_from
from propusk.web.console.org_pages import OrgContext, OrgDep, app_names
from propusk.web.console.render import ConsoleRoute, FormDep, page, redirect, text
from propusk.web.deps import OriginDep, ServicesDep

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

RequestId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
Serial = Annotated[str, Path(max_length=64, pattern="^[0-9a-fA-F]{1,64}$")]


def _principal(ctx: OrgContext) -> Principal:
    assert ctx.session.principal is not None  # set by every signed-in request
    return ctx.session.principal


async def _csr(form: FormData) -> ValidCsr:
    """The pasted CSR, or else the uploaded file (PEM, DER or Base64 DER)."""
    pasted = text(form, "csr", MAX_CSR_BYTES)
    if pasted:
        return _csr_from_body(pasted.encode())
    upload = form.get("csr_file")
    if isinstance(upload, UploadFile):
        data = await upload.read(MAX_CSR_BYTES + 1)
        if len(data) > MAX_CSR_BYTES:
            raise InvalidRequest("The certificate request file is too large")
        if data:
            return _csr_from_body(data)
    raise InvalidRequest("Paste the certificate request or choose its file")


def _back(ctx: OrgContext) -> Response:
    return redirect(f"/console/orgs/{ctx.org.id}/certificates")


@router.get("/orgs/{org_id}/certificates", response_class=HTMLResponse)
async def certificates_page(request: Request, ctx: OrgDep, services: ServicesDep) -> Response:
    principal = _principal(ctx)
    requests = await services.certificates.list_requests(principal, ctx.org.id)
    certificates = await services.certificates.list(principal, ctx.org.id)
    apps = await services.orgs.apps(ctx.account_id, ctx.org.id)
    return page(
        request,
        "certificates.html",
        ctx=ctx,
        requests=requests,
        certificates=certificates,
        apps=apps,
        names=app_names(apps),
        groups=method_groups(services.catalog),
        # Who may decide is the service's rule (admins, or owners with self-service);
        # the controls show for those who might, and the service has the last word.
        operator=principal.has_role("admin") or ctx.org.role == "owner",
        reasons=tuple(REASONS),
        area="certificates",
    )


@router.post("/orgs/{org_id}/certificates/requests")
async def submit(
    request: Request, ctx: OrgDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    csr = await _csr(form)
    await services.certificates.submit(_principal(ctx), ctx.org.id, csr, scope_from(form), origin)
    ctx.session.say("ok", "flash.csr_submitted")
    return _back(ctx)


@router.post("/orgs/{org_id}/certificates/requests/{request_id}/approve")
async def approve(
    request: Request,
    ctx: OrgDep,
    request_id: RequestId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    principal = _principal(ctx)
    pending = await services.certificates.get_request(principal, request_id)
    if pending.org_id != ctx.org.id:
        raise NotFound("No such certificate request")
    await services.certificates.approve(principal, request_id, origin)
    ctx.session.say("ok", "flash.csr_approved")
    return _back(ctx)


@router.post("/orgs/{org_id}/certificates/requests/{request_id}/reject")
async def reject(
    request: Request,
    ctx: OrgDep,
    request_id: RequestId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    principal = _principal(ctx)
    pending = await services.certificates.get_request(principal, request_id)
    if pending.org_id != ctx.org.id:
        raise NotFound("No such certificate request")
    await services.certificates.reject(principal, request_id, text(form, "reason", 255), origin)
    ctx.session.say("ok", "flash.csr_rejected")
    return _back(ctx)


async def _download(
    ctx: OrgContext, services: ServicesDep, serial: str, *, chain: bool
) -> Response:
    view = await services.certificates.get(_principal(ctx), ctx.org.id, serial)
    if chain:
        body, kind, name = await services.certificates.chain_pem(view), CHAIN_TYPE, "ca-chain"
    else:
        body, kind, name = view.pem, PEM_TYPE, f"certificate-{view.serial}"
    return Response(
        body,
        media_type=kind,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.pem"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/orgs/{org_id}/certificates/{serial}/certificate.pem")
async def certificate_pem(ctx: OrgDep, serial: Serial, services: ServicesDep) -> Response:
    return await _download(ctx, services, serial, chain=False)


@router.get("/orgs/{org_id}/certificates/{serial}/chain.pem")
async def chain_pem(ctx: OrgDep, serial: Serial, services: ServicesDep) -> Response:
    return await _download(ctx, services, serial, chain=True)


@router.post("/orgs/{org_id}/certificates/{serial}/revoke")
async def revoke(
    request: Request,
    ctx: OrgDep,
    serial: Serial,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    reason = text(form, "reason", 32) or "unspecified"
    await services.certificates.revoke(_principal(ctx), ctx.org.id, serial, reason, origin)
    ctx.session.say("ok", "flash.certificate_revoked")
    return _back(ctx)
