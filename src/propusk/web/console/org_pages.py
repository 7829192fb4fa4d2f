"""Organizations (switcher, create), apps, members and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from propusk.core.errors import InvalidRequest
from propusk.web.api.models import AccountId as MemberId
from propusk.web.api.models import AppId
from propusk.web.console.org_context import OrgPageDep, OrgPostDep
from propusk.web.console.render import ConsoleRoute, FormDep, SignedIn, page, redirect, text
from propusk.web.deps import OriginDep, ServicesDep

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

AUDIT_PAGE = 50


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
async def apps_page(view: OrgPageDep) -> Response:
    return view.render("apps.html", "apps", apps=await view.apps())


@router.post("/orgs/{org_id}/apps")
async def create_app(post: OrgPostDep) -> Response:
    await post.services.orgs.create_app(*post.who, text(post.form, "name", 255), post.origin)
    return post.done("flash.app_created", "apps")


@router.post("/orgs/{org_id}/apps/{app_id}/delete")
async def delete_app(app_id: AppId, post: OrgPostDep) -> Response:
    await post.services.orgs.delete_app(*post.who, app_id, post.origin)
    return post.done("flash.app_deleted", "apps")


# -- members --------------------------------------------------------------------------


@router.get("/orgs/{org_id}/members", response_class=HTMLResponse)
async def members_page(view: OrgPageDep) -> Response:
    members = await view.services.orgs.members(*view.who)
    return view.render("members.html", "members", members=members, roles=view.services.orgs.roles)


@router.post("/orgs/{org_id}/members")
async def add_member(post: OrgPostDep) -> Response:
    email, role = text(post.form, "email", 320), text(post.form, "role", 32)
    await post.services.orgs.add_member(*post.who, email, role, post.origin)
    return post.done("flash.member_added", "members")


@router.post("/orgs/{org_id}/members/{member_id}/role")
async def change_role(member_id: MemberId, post: OrgPostDep) -> Response:
    role = text(post.form, "role", 32)
    await post.services.orgs.change_role(*post.who, member_id, role, post.origin)
    return post.done("flash.role_changed", "members")


@router.post("/orgs/{org_id}/members/{member_id}/remove")
async def remove_member(member_id: MemberId, post: OrgPostDep) -> Response:
    await post.services.orgs.remove_member(*post.who, member_id, post.origin)
    if member_id == post.ctx.account_id:
        post.ctx.session.say("ok", "flash.member_removed")
        return redirect("/console/orgs")  # one has left: its pages are closed now
    return post.done("flash.member_removed", "members")


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
    view: OrgPageDep,
    kind: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    events = await view.services.orgs.audit(
        *view.who,
        kind=kind or None,
        since=_day(since),
        until=_day(until, end=True),
        before_id=cursor,
        limit=AUDIT_PAGE + 1,
    )
    shown = events[:AUDIT_PAGE]
    people = await view.services.orgs.members(*view.who)
    return view.render(
        "audit.html",
        "audit",
        events=shown,
        next_cursor=shown[-1].id if len(events) > AUDIT_PAGE else None,
        filters={"kind": kind, "since": since, "until": until},
        members={m.account_id: m.email for m in people},
    )
