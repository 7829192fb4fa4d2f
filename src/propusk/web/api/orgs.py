"""Organizations, members, apps and the organization's audit log (account Bearer tokens)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, Field

from propusk.services.audit import AuditRecord
from propusk.services.orgs import AppView, MemberView, OrgView
from propusk.web.api.models import Name, OrgId, Request, Str, wire
from propusk.web.api.org_items import ItemCall, OrgChange, OrgItems
from propusk.web.deps import BearerPrincipal, OriginDep, ServicesDep

router = APIRouter(prefix="/v1/orgs", tags=["organizations"])


def _org(o: OrgView) -> dict[str, Any]:
    return wire(o, "id", "name", "kind", "role", "created_at")


def _member(m: MemberView) -> dict[str, Any]:
    return wire(m, "account_id", "email", "role", "created_at")


def _app(a: AppView) -> dict[str, Any]:
    return wire(a, "id", "name", "created_at", "updated_at")


def _event(e: AuditRecord) -> dict[str, Any]:
    return wire(
        e, "id", "at", "kind", "outcome", "actor_type", "actor_id", "target_type",
        "target_id", "ip", "data",
    )  # fmt: skip


members = OrgItems(
    router, "/{org_id}/members", id_name="account_id", id_max_length=36, answer=_member
)
MemberChange = Annotated[ItemCall, Depends(members.change)]
apps = OrgItems(router, "/{org_id}/apps", id_name="app_id", id_max_length=36, answer=_app)
AppChange = Annotated[ItemCall, Depends(apps.change)]


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
async def add_member(org: OrgChange, body: MemberRequest) -> dict[str, Any]:
    member = await org.services.orgs.add_member(
        org.actor, org.org_id, body.email, body.role, org.origin
    )
    return _member(member)


members.list("list_members", lambda s: s.orgs.members)


@router.patch("/{org_id}/members/{account_id}")
async def change_member(member: MemberChange, body: RoleRequest) -> dict[str, Any]:
    return _member(await member.services.orgs.change_role(*member.target_with(body.role)))


members.delete("remove_member", lambda s: s.orgs.remove_member)


class AppRequest(Request):
    name: Name


@router.post("/{org_id}/apps", status_code=201)
async def create_app(org: OrgChange, body: AppRequest) -> dict[str, Any]:
    return _app(await org.services.orgs.create_app(org.actor, org.org_id, body.name, org.origin))


apps.list("list_apps", lambda s: s.orgs.apps)
apps.get("get_app", lambda s: s.orgs.app)


@router.patch("/{org_id}/apps/{app_id}")
async def rename_app(app: AppChange, body: AppRequest) -> dict[str, Any]:
    return _app(await app.services.orgs.rename_app(*app.target_with(body.name)))


apps.delete("delete_app", lambda s: s.orgs.delete_app)


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
