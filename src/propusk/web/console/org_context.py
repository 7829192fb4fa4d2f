"""The organization a console request is about, and what every organization page needs.

:data:`OrgDep` loads the organization and the caller's role in it. :data:`OrgPageDep`
bundles it with the request and the services for a page; :data:`OrgPostDep` adds the
posted form (CSRF-checked, see :data:`~propusk.web.console.render.FormDep`) and the audit
origin for an action. The bundles only gather dependencies: FastAPI resolves them in the
order the handlers used to name them one by one (the organization, then the form), so a
stranger's post is answered as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from propusk.core.errors import NotFound
from propusk.services.audit import Origin
from propusk.services.orgs import ORG_NOT_FOUND, Action, AppView, OrgView, role_may
from propusk.web.api.models import OrgId
from propusk.web.console.render import ConsoleError, FormDep, SignedIn, page, redirect
from propusk.web.console.session import ConsoleSession
from propusk.web.deps import OriginDep, ServicesDep
from propusk.wiring import Services

__all__ = [
    "OrgContext",
    "OrgDep",
    "OrgPage",
    "OrgPageDep",
    "OrgPost",
    "OrgPostDep",
    "app_names",
]


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
    """App id -> name, for the tables that show a scope's apps by name."""
    return {a.id: a.name for a in apps}


@dataclass(frozen=True)
class OrgPage:
    """A request for one of an organization's pages."""

    request: Request
    ctx: OrgContext
    services: Services

    @property
    def who(self) -> tuple[str, str]:
        """(account id, organization id): how every organization service call begins."""
        return self.ctx.account_id, self.ctx.org.id

    def need(self, action: Action) -> None:
        """Refuse with 403 unless the caller's role allows ``action``. The service refuses
        too; this only spares the person a form they cannot use."""
        if not self.ctx.can(action):
            raise ConsoleError(403, "error.forbidden")

    async def apps(self) -> list[AppView]:
        """The organization's apps (for scope forms and the names in tables)."""
        return await self.services.orgs.apps(*self.who)

    def render(self, template: str, area: str, **context: Any) -> HTMLResponse:
        """``template`` with the organization's header; ``area`` is the section the page
        belongs to: its tab, and its address (``here`` in the templates)."""
        return page(self.request, template, ctx=self.ctx, area=area, **context)


@dataclass(frozen=True)
class OrgPost(OrgPage):
    """A form posted to one of an organization's pages."""

    form: FormData
    origin: Origin

    def done(self, flash: str, section: str, *, kind: str = "ok") -> Response:
        """Show ``flash`` (a message key or a service's text) on the next page, which is
        the organization's ``section``."""
        self.ctx.session.say(kind, flash)
        return redirect(f"/console/orgs/{self.ctx.org.id}/{section}")


# async, as every dependency here: a plain def would be run in a worker thread.
async def _org_page(request: Request, ctx: OrgDep, services: ServicesDep) -> OrgPage:
    return OrgPage(request, ctx, services)


async def _org_post(
    request: Request, ctx: OrgDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> OrgPost:
    return OrgPost(request, ctx, services, form, origin)


OrgPageDep = Annotated[OrgPage, Depends(_org_page)]
OrgPostDep = Annotated[OrgPost, Depends(_org_post)]
