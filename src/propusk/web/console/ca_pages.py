"""The CA operator's queue for server admins: pending certificate requests of every
organization, approved or rejected here without being a member of the organization.

Only accounts with the server role ``admin`` see these pages; everyone else gets "not
found", as for any page they may not open. The certificate service checks the operator
right again on every decision, so this gate only spares others a page they cannot use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from propusk.core.principals import Principal
from propusk.services.audit import Origin
from propusk.web.api.models import ID_TEXT
from propusk.web.console.render import (
    ConsoleError,
    ConsoleRoute,
    FormDep,
    SignedIn,
    page,
    redirect,
    text,
)
from propusk.web.console.session import ConsoleSession
from propusk.web.deps import OriginDep, ServicesDep
from propusk.wiring import Services

router = APIRouter(prefix="/console/ca", route_class=ConsoleRoute, include_in_schema=False)

RequestId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
QUEUE = "/console/ca/requests"
QUEUE_PAGE = 200  # the service's page limit; the oldest pending ones show last


def is_operator(session: ConsoleSession | None) -> bool:
    """Whether the signed-in account is a server admin (base.html asks the same to show
    the link to the queue)."""
    principal = session.principal if session else None
    return principal is not None and principal.has_role("admin")


async def _admin(session: SignedIn) -> Principal:
    if not is_operator(session):
        raise ConsoleError(404, "error.not_found")
    assert session.principal is not None
    return session.principal


AdminDep = Annotated[Principal, Depends(_admin)]


@dataclass(frozen=True)
class _Decision:
    """A server admin's decision posted from the queue."""

    form: FormData
    admin: Principal
    session: ConsoleSession
    services: Services
    origin: Origin

    def done(self, flash: str) -> Response:
        self.session.say("ok", flash)
        return redirect(QUEUE)


async def _decision(
    form: FormDep,  # first: the CSRF check runs before anything else, for everyone
    admin: AdminDep,
    session: SignedIn,
    services: ServicesDep,
    origin: OriginDep,
) -> _Decision:
    return _Decision(form, admin, session, services, origin)


DecisionDep = Annotated[_Decision, Depends(_decision)]


@router.get("/requests", response_class=HTMLResponse)
async def queue_page(request: Request, admin: AdminDep, services: ServicesDep) -> Response:
    pending = await services.certificates.list_requests(
        admin, None, status="pending", limit=QUEUE_PAGE
    )
    orgs = await services.orgs.names(admin, {r.org_id for r in pending})
    return page(request, "ca_requests.html", ctx=None, requests=pending, org_names=orgs)


@router.post("/requests/{request_id}/approve")
async def approve(request_id: RequestId, post: DecisionDep) -> Response:
    await post.services.certificates.approve(post.admin, request_id, post.origin)
    return post.done("flash.csr_approved")


@router.post("/requests/{request_id}/reject")
async def reject(request_id: RequestId, post: DecisionDep) -> Response:
    reason = text(post.form, "reason", 255)
    await post.services.certificates.reject(post.admin, request_id, reason, post.origin)
    return post.done("flash.csr_rejected")
