"""Certificate requests and client certificates: upload a CSR, see its status; operators
approve or reject; download the certificate and the CA chain; revoke.

The certificate service takes the caller's verified :class:`Principal` (server admins
are CA operators for every organization), which the session holds for the request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData, UploadFile

from propusk.core.csr import MAX_CSR_BYTES, ValidCsr
from propusk.core.errors import InvalidRequest, NotFound
from propusk.core.pki import REASONS
from propusk.core.principals import Principal
from propusk.web.api.certificates import CHAIN_TYPE, PEM_TYPE, _csr_from_body
from propusk.web.api.models import ID_TEXT
from propusk.web.console.org_context import OrgPage, OrgPageDep, OrgPost, OrgPostDep
from propusk.web.console.render import ConsoleRoute, text
from propusk.web.console.scope_form import scope_choices, scope_from

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

RequestId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
Serial = Annotated[str, Path(max_length=64, pattern="^[0-9a-fA-F]{1,64}$")]
SECTION = "certificates"


def _principal(view: OrgPage) -> Principal:
    assert view.ctx.session.principal is not None  # set by every signed-in request
    return view.ctx.session.principal


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


@router.get("/orgs/{org_id}/certificates", response_class=HTMLResponse)
async def certificates_page(view: OrgPageDep) -> Response:
    principal = _principal(view)
    requests = await view.services.certificates.list_requests(principal, view.ctx.org.id)
    certificates = await view.services.certificates.list(principal, view.ctx.org.id)
    return view.render(
        "certificates.html",
        SECTION,
        requests=requests,
        certificates=certificates,
        # Who may decide is the service's rule (admins, or owners with self-service);
        # the controls show for those who might, and the service has the last word.
        operator=principal.has_role("admin") or view.ctx.org.role == "owner",
        reasons=tuple(REASONS),
        **await scope_choices(view),
    )


@router.post("/orgs/{org_id}/certificates/requests")
async def submit(post: OrgPostDep) -> Response:
    csr = await _csr(post.form)
    org_id = post.ctx.org.id
    await post.services.certificates.submit(
        _principal(post), org_id, csr, scope_from(post.form), post.origin
    )
    return post.done("flash.csr_submitted", SECTION)


async def _pending(post: OrgPost, request_id: str) -> Principal:
    """The caller, once ``request_id`` is known to be this organization's request: an
    operator decides here only for the organization whose page this is."""
    principal = _principal(post)
    pending = await post.services.certificates.get_request(principal, request_id)
    if pending.org_id != post.ctx.org.id:
        raise NotFound("No such certificate request")
    return principal


@router.post("/orgs/{org_id}/certificates/requests/{request_id}/approve")
async def approve(request_id: RequestId, post: OrgPostDep) -> Response:
    principal = await _pending(post, request_id)
    await post.services.certificates.approve(principal, request_id, post.origin)
    return post.done("flash.csr_approved", SECTION)


@router.post("/orgs/{org_id}/certificates/requests/{request_id}/reject")
async def reject(request_id: RequestId, post: OrgPostDep) -> Response:
    principal = await _pending(post, request_id)
    reason = text(post.form, "reason", 255)
    await post.services.certificates.reject(principal, request_id, reason, post.origin)
    return post.done("flash.csr_rejected", SECTION)


async def _download(view: OrgPage, serial: str, *, chain: bool) -> Response:
    certificates = view.services.certificates
    cert = await certificates.get(_principal(view), view.ctx.org.id, serial)
    if chain:
        body, kind, name = await certificates.chain_pem(cert), CHAIN_TYPE, "ca-chain"
    else:
        body, kind, name = cert.pem, PEM_TYPE, f"certificate-{cert.serial}"
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
async def certificate_pem(serial: Serial, view: OrgPageDep) -> Response:
    return await _download(view, serial, chain=False)


@router.get("/orgs/{org_id}/certificates/{serial}/chain.pem")
async def chain_pem(serial: Serial, view: OrgPageDep) -> Response:
    return await _download(view, serial, chain=True)


@router.post("/orgs/{org_id}/certificates/{serial}/revoke")
async def revoke(serial: Serial, post: OrgPostDep) -> Response:
    reason = text(post.form, "reason", 32) or "unspecified"
    await post.services.certificates.revoke(
        _principal(post), post.ctx.org.id, serial, reason, post.origin
    )
    return post.done("flash.certificate_revoked", SECTION)
