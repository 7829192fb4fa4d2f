"""The built-in CA over HTTP: its certificate and CRL (public), certificate requests (org
owners and admins), decisions (CA operators), and the certificates themselves."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Body, Path, Query
from fastapi import Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import Field, StrictBool, StrictInt, ValidationError

from propusk.core.csr import (
    MAX_CSR_BYTES,
    CsrError,
    ValidCsr,
    parse_csr_der,
    parse_csr_pem,
    parse_subject,
)
from propusk.core.errors import InvalidRequest, NotFound
from propusk.services.certificates import CertificateView, RequestView
from propusk.services.scopes import KeyScope
from propusk.web.api.models import ID_TEXT, Ids, OrgId, Request, Str, wire
from propusk.web.deps import AdminPrincipal, BearerPrincipal, OriginDep, ServicesDep

router = APIRouter(tags=["certificates"])

RequestId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
Serial = Annotated[str, Path(max_length=40, pattern=r"^[0-9a-fA-F]{1,40}$")]
PEM_TYPE = "application/x-pem-file"
CHAIN_TYPE = "application/pem-certificate-chain"  # RFC 8555 §9.1
CRL_TYPE = "application/pkix-crl"  # RFC 2585
PKCS10 = "application/pkcs10"  # RFC 5967


def _request(v: RequestView) -> dict[str, Any]:
    return wire(
        v, "id", "org_id", "subject", "key_type", "apps", "methods", "status", "requested_by",
        "created_at", "decided_by", "decided_at", "reason", "certificate_serial", "csr_pem",
    )  # fmt: skip


def _certificate(v: CertificateView, chain: str | None = None) -> dict[str, Any]:
    body = wire(
        v, "serial", "org_id", "request_id", "subject", "apps", "methods", "not_before",
        "not_after", "status", "revoked_at", "revocation_reason", "thumbprint",
    )  # fmt: skip
    body["certificatePem"] = v.pem
    if chain is not None:
        body["chainPem"] = chain
    return body


# -- the CA itself (public) -------------------------------------------------------------


@router.get("/v1/ca/certificate", response_class=Response)
async def ca_certificate(services: ServicesDep) -> Response:
    """The CA certificate (and the chain above it, for an intermediate), PEM."""
    return Response(await services.ca.certificate_pem(), media_type=PEM_TYPE)


@router.get("/v1/ca/crl", response_class=Response)
async def crl(
    request: HttpRequest,
    services: ServicesDep,
    format: Annotated[str | None, Query(pattern="^(der|pem)$")] = None,
) -> Response:
    """The CRL: DER (``application/pkix-crl``) by default, PEM when asked for with
    ``Accept: application/x-pem-file`` or ``?format=pem``."""
    der = await services.ca.crl_der()
    accept = request.headers.get("accept", "")
    headers = {"Cache-Control": "no-cache"}
    if format == "pem" or (format is None and "pem" in accept.lower()):
        text = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
        return Response(text, media_type=PEM_TYPE, headers=headers)
    return Response(der, media_type=CRL_TYPE, headers=headers)


# -- requests -----------------------------------------------------------------------------


class CreateRequest(Request):
    csrPem: Annotated[Str, Field(max_length=MAX_CSR_BYTES)]
    appIds: Ids | None = None
    allApps: StrictBool = False
    methods: Ids


def _csr_from_body(raw: bytes) -> ValidCsr:
    """An ``application/pkcs10`` body: DER (RFC 5967), PEM, or Base64 DER (as EST sends)."""
    stripped = raw.strip()
    if stripped.startswith(b"-----BEGIN"):
        return parse_csr_pem(stripped)
    if raw[:1] == b"\x30":
        return parse_csr_der(raw)
    try:
        der = base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CsrError("an application/pkcs10 body must be a DER, PEM or Base64 CSR") from None
    return parse_csr_der(der)


@router.post(
    "/v1/orgs/{org_id}/certificate-requests",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": CreateRequest.model_json_schema()},
                PKCS10: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def create_request(
    org_id: OrgId,
    request: HttpRequest,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
    appIds: Annotated[list[str] | None, Query(max_length=1000)] = None,
    allApps: bool = False,
    methods: Annotated[list[str] | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """Submit a CSR with the scope it asks for: JSON ``{csrPem, appIds|allApps, methods}``,
    or the CSR itself as ``application/pkcs10`` with the scope in the query string."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if kind == PKCS10:
        if any(len(v) > 64 for v in (appIds or []) + (methods or [])):
            raise InvalidRequest("appIds and methods are at most 64 characters each")
        csr = _csr_from_body(raw)
        scope = KeyScope(appIds, allApps, methods or [])
    elif kind in ("application/json", ""):
        if appIds is not None or allApps or methods is not None:
            raise InvalidRequest("with a JSON body the scope goes in the body, not the query")
        try:
            body = CreateRequest.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        csr = parse_csr_pem(body.csrPem)
        scope = KeyScope(body.appIds, body.allApps, body.methods)
    else:
        raise InvalidRequest(f"send application/json or {PKCS10}")
    view = await services.certificates.submit(principal, org_id, csr, scope, origin)
    return _request(view)


@router.get("/v1/orgs/{org_id}/certificate-requests")
async def list_requests(
    org_id: OrgId,
    principal: BearerPrincipal,
    services: ServicesDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    views = await services.certificates.list_requests(
        principal, org_id, status=status, limit=limit, offset=offset
    )
    return {"items": [_request(v) for v in views]}


@router.get("/v1/orgs/{org_id}/certificate-requests/{request_id}")
async def get_org_request(
    org_id: OrgId, request_id: RequestId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    view = await services.certificates.get_request(principal, request_id)
    if view.org_id != org_id:
        raise NotFound("No such certificate request")
    return _request(view)


@router.get("/v1/ca/requests")
async def operator_queue(
    admin: AdminPrincipal,
    services: ServicesDep,
    status: Annotated[str | None, Query(max_length=16)] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Every org's requests (server admins: the CA operator's queue)."""
    views = await services.certificates.list_requests(
        admin, None, status=status or None, limit=limit, offset=offset
    )
    return {"items": [_request(v) for v in views]}


@router.get("/v1/ca/requests/{request_id}")
async def get_request(
    request_id: RequestId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return _request(await services.certificates.get_request(principal, request_id))


class Approve(Request):
    subject: Annotated[Str | None, Field(max_length=2048)] = None
    # Strict: a string such as "30" in JSON is a client bug, not a number.
    days: Annotated[StrictInt | None, Field(ge=1, le=3650)] = None


class Reject(Request):
    reason: Annotated[Str, Field(min_length=1, max_length=255)]


@router.post("/v1/ca/requests/{request_id}/approve")
async def approve(
    request_id: RequestId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
    body: Annotated[Approve | None, Body()] = None,
) -> dict[str, Any]:
    """Issue the certificate (a server admin, or an owner of a self-service org). The CA
    may override the subject (``/C=RU/O=…/CN=…``) and the validity in days."""
    body = body or Approve()
    subject = parse_subject(body.subject) if body.subject else None
    view = await services.certificates.approve(
        principal, request_id, origin, subject=subject, days=body.days
    )
    return _certificate(view, await services.certificates.chain_pem(view))


@router.post("/v1/ca/requests/{request_id}/reject")
async def reject(
    request_id: RequestId,
    body: Reject,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    view = await services.certificates.reject(principal, request_id, body.reason, origin)
    return _request(view)


class SelfService(Request):
    enabled: StrictBool  # "yes" must not switch self-service on


@router.put("/v1/ca/orgs/{org_id}/self-service", status_code=204, response_class=Response)
async def self_service(
    org_id: OrgId,
    body: SelfService,
    admin: AdminPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    """Let an org's owners approve its own certificate requests (server admins only)."""
    await services.certificates.set_self_service(admin, org_id, body.enabled, origin)
    return Response(status_code=204)


# -- certificates -------------------------------------------------------------------------


@router.get("/v1/orgs/{org_id}/certificates")
async def list_certificates(
    org_id: OrgId,
    principal: BearerPrincipal,
    services: ServicesDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    expiresBefore: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Newest first; ``status`` active|revoked|expired, ``expiresBefore`` ISO-8601."""
    if expiresBefore is not None and expiresBefore.tzinfo is None:
        raise InvalidRequest("expiresBefore needs a time zone offset")
    if expiresBefore is not None:
        try:
            # In UTC here: the database layer converts it, and 0001-01-01T00:00+14:00 or
            # 9999-12-31T23:59-14:00 overflow the datetime range there (a 500, not a 400).
            expiresBefore = expiresBefore.astimezone(UTC)
        except OverflowError:
            raise InvalidRequest("expiresBefore is out of range") from None
    views = await services.certificates.list(
        principal, org_id, status=status, expires_before=expiresBefore, limit=limit, offset=offset
    )
    return {
        "items": [_certificate(v) for v in views],
        "nextOffset": offset + len(views) if len(views) == limit else None,
    }


@router.get("/v1/orgs/{org_id}/certificates/{serial}", response_model=None)
async def get_certificate(
    org_id: OrgId,
    serial: Serial,
    request: HttpRequest,
    principal: BearerPrincipal,
    services: ServicesDep,
    format: Annotated[str | None, Query(pattern="^(json|pem|bundle)$")] = None,
) -> dict[str, Any] | Response:
    """The certificate and the CA chain: JSON by default; ``?format=pem`` the certificate
    alone; ``?format=bundle`` (or ``Accept: application/pem-certificate-chain``) the
    certificate followed by the chain, as TLS clients want it."""
    view = await services.certificates.get(principal, org_id, serial)
    chain = await services.certificates.chain_pem(view)
    accept = request.headers.get("accept", "").lower()
    if format == "bundle" or (format is None and CHAIN_TYPE in accept):
        return Response(view.pem + chain, media_type=CHAIN_TYPE)
    if format == "pem":
        return Response(view.pem, media_type=PEM_TYPE)
    return _certificate(view, chain)


class Revoke(Request):
    reason: Annotated[Str, Field(max_length=32)] = "unspecified"


@router.post("/v1/orgs/{org_id}/certificates/{serial}/revoke")
async def revoke(
    org_id: OrgId,
    serial: Serial,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
    body: Annotated[Revoke | None, Body()] = None,
) -> dict[str, Any]:
    """Revoke for good with an RFC 5280 reason (keyCompromise, superseded, …)."""
    body = body or Revoke()
    view = await services.certificates.revoke(principal, org_id, serial, body.reason, origin)
    return _certificate(view)
