"""Organizations, members, apps and the organization's audit log (account Bearer tokens)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, Field

from propusk.services.audit import AuditRecord
from propusk.services.orgs import AppView, MemberView, OrgView
from propusk.web.api.models import AccountId, AppId, OrgId, Request, Str
from propusk.web.deps import BearerPrincipal, OriginDep, ServicesDep

router = APIRouter(prefix="/v1/orgs", tags=["organizations"])

Name = Annotated[Str, Field(max_length=255)]


def _org(o: OrgView) -> dict[str, Any]:
    return {
        "id": o.id,
        "name": o.name,
        "kind": o.kind,
        "role": o.role,
        "createdAt": o.created_at.isoformat(),
    }


def _member(m: MemberView) -> dict[str, Any]:
    return {
        "accountId": m.account_id,
        "email": m.email,
        "role": m.role,
        "createdAt": m.created_at.isoformat(),
    }


def _app(a: AppView) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "createdAt": a.created_at.isoformat(),
        "updatedAt": a.updated_at.isoformat(),
    }


def _event(e: AuditRecord) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "kind": e.kind,
        "outcome": e.outcome,
        "actorType": e.actor_type,
        "actorId": e.actor_id,
        "targetType": e.target_type,
        "targetId": e.target_id,
        "ip": e.ip,
        "data": e.data,
    }


class OrgRequest(Request):
    name: Name
    kind: Literal["company", "individual"]


@router.post("", status_code=201)
async def create_org(
    body: OrgRequest, principal: BearerPrincipal, services: ServicesDep, origin: OriginDep
) -> dict[str, Any]:
    return _org(await services.orgs.create(principal.subject, body.name, body.kind, origin))


@router.get("")
async def list_orgs(principal: BearerPrincipal, services: ServicesDep) -> dict[str, Any]:
    return {"items": [_org(o) for o in await services.orgs.list_for(principal.subject)]}


@router.get("/{org_id}")
async def get_org(
    org_id: OrgId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return _org(await services.orgs.get(principal.subject, org_id))


class MemberRequest(Request):
    email: Annotated[Str, Field(max_length=320)]
    role: Annotated[Str, Field(max_length=32)]


class RoleRequest(Request):
    role: Annotated[Str, Field(max_length=32)]


@router.post("/{org_id}/members", status_code=201)
async def add_member(
    org_id: OrgId,
    body: MemberRequest,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    member = await services.orgs.add_member(
        principal.subject, org_id, body.email, body.role, origin
    )
    return _member(member)


@router.get("/{org_id}/members")
async def list_members(
    org_id: OrgId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return {"items": [_member(m) for m in await services.orgs.members(principal.subject, org_id)]}


@router.patch("/{org_id}/members/{account_id}")
async def change_member(
    org_id: OrgId,
    account_id: AccountId,
    body: RoleRequest,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    member = await services.orgs.change_role(
        principal.subject, org_id, account_id, body.role, origin
    )
    return _member(member)


@router.delete("/{org_id}/members/{account_id}", status_code=204)
async def remove_member(
    org_id: OrgId,
    account_id: AccountId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.orgs.remove_member(principal.subject, org_id, account_id, origin)
    return Response(status_code=204)


class AppRequest(Request):
    name: Name


@router.post("/{org_id}/apps", status_code=201)
async def create_app(
    org_id: OrgId,
    body: AppRequest,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    return _app(await services.orgs.create_app(principal.subject, org_id, body.name, origin))


@router.get("/{org_id}/apps")
async def list_apps(
    org_id: OrgId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return {"items": [_app(a) for a in await services.orgs.apps(principal.subject, org_id)]}


@router.get("/{org_id}/apps/{app_id}")
async def get_app(
    org_id: OrgId, app_id: AppId, principal: BearerPrincipal, services: ServicesDep
) -> dict[str, Any]:
    return _app(await services.orgs.app(principal.subject, org_id, app_id))


@router.patch("/{org_id}/apps/{app_id}")
async def rename_app(
    org_id: OrgId,
    app_id: AppId,
    body: AppRequest,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, Any]:
    app = await services.orgs.rename_app(principal.subject, org_id, app_id, body.name, origin)
    return _app(app)


@router.delete("/{org_id}/apps/{app_id}", status_code=204)
async def delete_app(
    org_id: OrgId,
    app_id: AppId,
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.orgs.delete_app(principal.subject, org_id, app_id, origin)
    return Response(status_code=204)


@router.get("/{org_id}/audit")
async def audit(
    org_id: OrgId,
    principal: BearerPrincipal,
    services: ServicesDep,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The organization's events, newest first. Pass ``next`` back as ``cursor`` for the
    following page; it is null on the last page."""
    # One more than the page, to know whether a next page exists.
    events = await services.orgs.audit(
        principal.subject,
        org_id,
        kind=kind,
        actor_id=actor,
        since=since,
        until=until,
        before_id=cursor,
        limit=limit + 1,
    )
    page = events[:limit]
    next_cursor = page[-1].id if len(events) > limit else None
    return {"items": [_event(e) for e in page], "next": next_cursor}
