"""Sign in, sign up, e-mail confirmation, password reset, sign out, language.

Every action is the account service's own (``services.accounts`` / ``services.sessions``),
called in process exactly as the JSON API calls it: the same throttles, audit events and
errors. Only the presentation is the console's.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from propusk.core.errors import InvalidRequest
from propusk.core.identifiers import LOCALES
from propusk.web.console.render import (
    ConsoleError,
    ConsoleRoute,
    FormDep,
    SessionDep,
    page,
    redirect,
    text,
)
from propusk.web.console.session import sign_in, sign_out
from propusk.web.deps import OriginDep, ServicesDep

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

EMAIL_MAX = 320
PASSWORD_MAX = 4096


def _next(value: str | None) -> str:
    """Only a console path may follow sign-in (no open redirect)."""
    if value and value.startswith("/console/") and "//" not in value and "\\" not in value:
        return value
    return "/console/"


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home(session: SessionDep, services: ServicesDep) -> Response:
    """Signed out: the sign-in page; signed in: the first organization, or creating one."""
    if not session.signed_in:
        return redirect("/console/login")
    assert session.account_id is not None
    orgs = await services.orgs.list_for(session.account_id)
    if not orgs:
        return redirect("/console/orgs")
    return redirect(f"/console/orgs/{orgs[0].id}/service-keys")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    if session.signed_in:
        return redirect(_next(next))
    return page(request, "login.html", next=_next(next))


@router.post("/login")
async def login(
    request: Request, session: SessionDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    email, password = text(form, "email", EMAIL_MAX), text(form, "password", PASSWORD_MAX)
    if not email or not password:
        raise InvalidRequest("Enter your e-mail address and password")
    new = await sign_in(services, session, email, password, origin)
    request.state.console = new  # the response carries the new session, not the old one
    return redirect(_next(text(form, "next", 512)))


@router.post("/logout")
async def logout(
    request: Request, session: SessionDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    request.state.console = await sign_out(services, session, origin)
    request.state.console.say("ok", "flash.signed_out")
    return redirect("/console/login")


@router.post("/locale")
async def locale(request: Request, session: SessionDep, form: FormDep) -> Response:
    wanted = text(form, "locale", 8)
    if wanted not in LOCALES:
        raise ConsoleError(400, "error.invalid")
    session.locale, session.dirty = wanted, True
    return redirect(_next(text(form, "next", 512)))


@router.get("/signup", response_class=HTMLResponse)
async def signup_form(request: Request, session: SessionDep) -> Response:
    return page(request, "signup.html")


@router.post("/signup")
async def signup(
    request: Request, session: SessionDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    email = text(form, "email", EMAIL_MAX)
    password, repeat = text(form, "password", PASSWORD_MAX), text(form, "repeat", PASSWORD_MAX)
    wanted = text(form, "locale", 8) or session.locale
    if not secrets.compare_digest(password.encode(), repeat.encode()):
        raise InvalidRequest("The passwords differ")
    await services.accounts.register(email, password, wanted, "console", origin)
    session.locale = wanted if wanted in LOCALES else session.locale
    session.say("ok", "flash.check_mail")
    return redirect("/console/confirm")


@router.get("/confirm", response_class=HTMLResponse)
async def confirm_form(request: Request, session: SessionDep) -> Response:
    return page(request, "confirm.html", code="")


@router.get("/confirm/{code}", response_class=HTMLResponse)
async def confirm_link(request: Request, session: SessionDep, code: str) -> Response:
    # A GET only fills the form: mail scanners that fetch links must not spend the code.
    return page(request, "confirm.html", code=code[:128])


@router.post("/confirm")
async def confirm(
    request: Request, session: SessionDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    await services.accounts.confirm(text(form, "code", 128), origin)
    session.say("ok", "flash.confirmed")
    return redirect("/console/login")


@router.post("/confirm/resend")
async def resend(
    request: Request, session: SessionDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    email = text(form, "email", EMAIL_MAX)
    if email:
        await services.accounts.resend_confirmation(email, origin)
    session.say("ok", "flash.resent")
    return redirect("/console/confirm")


@router.get("/password/forgot", response_class=HTMLResponse)
async def forgot_form(request: Request, session: SessionDep) -> Response:
    return page(request, "forgot.html")


@router.post("/password/forgot")
async def forgot(
    request: Request, session: SessionDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    email = text(form, "email", EMAIL_MAX)
    if email:
        await services.accounts.request_password_reset(email, "console", origin)
    # The same answer whether or not the account exists.
    session.say("ok", "flash.reset_sent")
    return redirect("/console/password/reset")


@router.get("/password/reset", response_class=HTMLResponse)
async def reset_form(request: Request, session: SessionDep) -> Response:
    return page(request, "reset.html")


@router.post("/password/reset")
async def reset(
    request: Request, session: SessionDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> Response:
    password, repeat = text(form, "password", PASSWORD_MAX), text(form, "repeat", PASSWORD_MAX)
    if not secrets.compare_digest(password.encode(), repeat.encode()):
        raise InvalidRequest("The passwords differ")
    await services.accounts.reset_password(text(form, "code", 128), password, origin)
    session.say("ok", "flash.password_changed")
    return redirect("/console/login")


fallback = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@fallback.get("/{rest:path}", response_class=HTMLResponse)
async def not_found(request: Request, session: SessionDep, rest: str) -> Response:
    """Any other console address: a page saying so, not a JSON error."""
    raise ConsoleError(404, "error.not_found")
