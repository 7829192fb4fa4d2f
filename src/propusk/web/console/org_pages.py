"""Organizations (switcher, create), apps, members and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from propusk.core.errors import InvalidRequest, NotFound
from propusk.services.orgs import ORG_NOT_FOUND, Action, AppView, OrgView, role_may
from propusk.web.api.models import AccountId as MemberId
from propusk.web.api.models import AppId, OrgId
from propusk.web.console.render import (
    ConsoleRoute,
    FormDep,
    SignedIn,
    page,
    redirect,
    text,
)
from propusk.web.console.session import ConsoleSession
from propusk.web.deps import OriginDep, ServicesDep

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

AUDIT_PAGE = 50


@dataclass(frozen=True)
class OrgContext:
    """The organization a page is about, the caller's role, and the switcher's list."""

    session: ConsoleSession
    account_id: str
    org: OrgView
    orgs: list[OrgView]

    def can(self, action: Action) -> bool:
        """Whether to show the controls for ``action``: the services' own role table
        decides, so the pages and the refusals cannot drift apart."""
        return role_may(self.org.role, action)


async def _org(org_id: OrgId, session: SignedIn, services: ServicesDep) -> OrgContext:
    assert session.account_id is not None
    # One read gives both the switcher's list and the caller's role here; not a member
    # means "not found", as the services answer strangers.
    orgs = await services.orgs.list_for(session.account_id)
    org = next((o for o in orgs if o.id == org_id), None)
    if org is None:
        raise NotFound(ORG_NOT_FOUND)
    return OrgContext(session, session.account_id, org, orgs)


OrgDep = Annotated[OrgContext, Depends(_org)]


def app_names(apps: list[AppView]) -> dict[str, str]:
    return {a.id: a.name for a in apps}


# -- organizations --------------------------------------------------------------------


@router.get("/orgs", response_class=HTMLResponse)
async def orgs_page(request: Request, session: SignedIn, services: ServicesDep) -> Response:
    assert session.account_id is not None
    orgs = await services.orgs.list_for(session.account_id)
    return page(request, "orgs.html", orgs=orgs, ctx=None)


@router.post("/orgs")
async def create_org(
    request: Request, session: SignedIn, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    assert session.account_id is not None
    kind = text(form, "kind", 16)
    if kind not in ("company", "individual"):
        raise InvalidRequest("Choose a company or an individual developer")
    org = await services.orgs.create(session.account_id, text(form, "name", 255), kind, origin)
    session.say("ok", "flash.org_created")
    return redirect(f"/console/orgs/{org.id}/apps")


@router.get("/switch")
async def switch(session: SignedIn, org: str = "") -> Response:
    """The switcher's target (a GET form, so it works without script)."""
    if not org or len(org) > 36 or not all(c.isalnum() or c == "-" for c in org):
        return redirect("/console/orgs")
    return redirect(f"/console/orgs/{org}/service-keys")


# -- apps -----------------------------------------------------------------------------


@router.get("/orgs/{org_id}/apps", response_class=HTMLResponse)
async def apps_page(request: Request, ctx: OrgDep, services: ServicesDep) -> Response:
    apps = await services.orgs.apps(ctx.account_id, ctx.org.id)
    return page(request, "apps.html", ctx=ctx, apps=apps, area="apps")


@router.post("/orgs/{org_id}/apps")
async def create_app(
    request: Request, ctx: OrgDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    await services.orgs.create_app(ctx.account_id, ctx.org.id, text(form, "name", 255), origin)
    ctx.session.say("ok", "flash.app_created")
    return redirect(f"/console/orgs/{ctx.org.id}/apps")


@router.post("/orgs/{org_id}/apps/{app_id}/delete")
async def delete_app(
    request: Request,
    ctx: OrgDep,
    app_id: AppId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.orgs.delete_app(ctx.account_id, ctx.org.id, app_id, origin)
    ctx.session.say("ok", "flash.app_deleted")
    return redirect(f"/console/orgs/{ctx.org.id}/apps")


# -- members --------------------------------------------------------------------------


@router.get("/orgs/{org_id}/members", response_class=HTMLResponse)
async def members_page(request: Request, ctx: OrgDep, services: ServicesDep) -> Response:
    members = await services.orgs.members(ctx.account_id, ctx.org.id)
    return page(
        request,
        "members.html",
        ctx=ctx,
        members=members,
        roles=services.orgs.roles,
        area="members",
    )


@router.post("/orgs/{org_id}/members")
async def add_member(
    request: Request, ctx: OrgDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    await services.orgs.add_member(
        ctx.account_id, ctx.org.id, text(form, "email", 320), text(form, "role", 32), origin
    )
    ctx.session.say("ok", "flash.member_added")
    return redirect(f"/console/orgs/{ctx.org.id}/members")


@router.post("/orgs/{org_id}/members/{member_id}/role")
async def change_role(
    request: Request,
    ctx: OrgDep,
    member_id: MemberId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.orgs.change_role(
        ctx.account_id, ctx.org.id, member_id, text(form, "role", 32), origin
    )
    ctx.session.say("ok", "flash.role_changed")
    return redirect(f"/console/orgs/{ctx.org.id}/members")


@router.post("/orgs/{org_id}/members/{member_id}/remove")
async def remove_member(
    request: Request,
    ctx: OrgDep,
    member_id: MemberId,
    form: FormDep,
    services: ServicesDep,
    origin: OriginDep,
) -> Response:
    await services.orgs.remove_member(ctx.account_id, ctx.org.id, member_id, origin)
    ctx.session.say("ok", "flash.member_removed")
    if member_id == ctx.account_id:
        return redirect("/console/orgs")
    return redirect(f"/console/orgs/{ctx.org.id}/members")


# -- audit ----------------------------------------------------------------------------


def _day(value: str, end: bool = False) -> datetime | None:
    """A date field (YYYY-MM-DD) as the start of that day in UTC, or of the next day."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequest("Dates are YYYY-MM-DD") from None
    return day + timedelta(days=1) if end else day


@router.get("/orgs/{org_id}/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    ctx: OrgDep,
    services: ServicesDep,
    kind: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    events = await services.orgs.audit(
        ctx.account_id,
        ctx.org.id,
        kind=kind or None,
        since=_day(since),
        until=_day(until, end=True),
        before_id=cursor,
        limit=AUDIT_PAGE + 1,
    )
    shown = events[:AUDIT_PAGE]
    people = await services.orgs.members(ctx.account_id, ctx.org.id)
    return page(
        request,
        "audit.html",
        ctx=ctx,
        events=shown,
        next_cursor=shown[-1].id if len(events) > AUDIT_PAGE else None,
        filters={"kind": kind, "since": since, "until": until},
        members={m.account_id: m.email for m in people},
        area="audit",
    )
