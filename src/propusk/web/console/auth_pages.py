"""Sign in, sign up, e-mail confirmation, password reset, sign out, language.

Every action is the account service's own (``services.accounts`` / ``services.sessions``),
called in process exactly as the JSON API calls it: the same throttles, audit events and
errors. Only the presentation is the console's.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from propusk.core.errors import InvalidRequest
from propusk.core.identifiers import LOCALES
from propusk.services.audit import Origin
from propusk.web.console.render import (
    ConsoleError,
    ConsoleRoute,
    FormDep,
    SessionDep,
    page,
    redirect,
    text,
)
from propusk.web.console.session import ConsoleSession, sign_in, sign_out
from propusk.web.deps import OriginDep, ServicesDep
from propusk.wiring import Services

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

EMAIL_MAX = 320
PASSWORD_MAX = 4096


def _next(value: str | None) -> str:
    """Only a console path may follow sign-in (no open redirect)."""
    if value and value.startswith("/console/") and "//" not in value and "\\" not in value:
        return value
    return "/console/"


@dataclass(frozen=True)
class _Post:
    """A form posted to an account page, by anyone (signed in or not)."""

    request: Request
    session: ConsoleSession
    form: FormData
    services: Services
    origin: Origin

    def done(self, flash: str, url: str) -> Response:
        self.session.say("ok", flash)
        return redirect(url)

    def email(self) -> str:
        return text(self.form, "email", EMAIL_MAX)

    def new_password(self) -> str:
        """The password typed twice (sign-up, reset), refused unless both are the same."""
        password = text(self.form, "password", PASSWORD_MAX)
        repeat = text(self.form, "repeat", PASSWORD_MAX)
        if not secrets.compare_digest(password.encode(), repeat.encode()):
            raise InvalidRequest("The passwords differ")
        return password


async def _post(
    request: Request, session: SessionDep, form: FormDep, services: ServicesDep, origin: OriginDep
) -> _Post:
    return _Post(request, session, form, services, origin)


PostDep = Annotated[_Post, Depends(_post)]


def _form_page(template: str) -> Callable[..., Awaitable[Response]]:
    async def show(request: Request, session: SessionDep) -> Response:
        return page(request, template)

    return show


# The pages that are only their form; each form posts back to the same address.
for _path, _template in (
    ("/signup", "signup.html"),
    ("/password/forgot", "forgot.html"),
    ("/password/reset", "reset.html"),
):
    router.add_api_route(_path, _form_page(_template), methods=["GET"], response_class=HTMLResponse)


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
async def login(post: PostDep) -> Response:
    email, password = post.email(), text(post.form, "password", PASSWORD_MAX)
    if not email or not password:
        raise InvalidRequest("Enter your e-mail address and password")
    new = await sign_in(post.services, post.session, email, password, post.origin)
    post.request.state.console = new  # the response carries the new session, not the old one
    return redirect(_next(text(post.form, "next", 512)))


@router.post("/logout")
async def logout(post: PostDep) -> Response:
    post.request.state.console = await sign_out(post.services, post.session, post.origin)
    post.request.state.console.say("ok", "flash.signed_out")
    return redirect("/console/login")


@router.post("/locale")
async def locale(request: Request, session: SessionDep, form: FormDep) -> Response:
    wanted = text(form, "locale", 8)
    if wanted not in LOCALES:
        raise ConsoleError(400, "error.invalid")
    session.locale, session.dirty = wanted, True
    return redirect(_next(text(form, "next", 512)))


@router.post("/signup")
async def signup(post: PostDep) -> Response:
    # Every field is read (and a too long one refused) before the passwords are compared.
    wanted = text(post.form, "locale", 8) or post.session.locale
    email, password = post.email(), post.new_password()
    await post.services.accounts.register(email, password, wanted, "console", post.origin)
    post.session.locale = wanted if wanted in LOCALES else post.session.locale
    return post.done("flash.check_mail", "/console/confirm")


@router.get("/confirm", response_class=HTMLResponse)
async def confirm_form(request: Request, session: SessionDep) -> Response:
    return page(request, "confirm.html", code="")


@router.get("/confirm/{code}", response_class=HTMLResponse)
async def confirm_link(request: Request, session: SessionDep, code: str) -> Response:
    # A GET only fills the form: mail scanners that fetch links must not spend the code.
    return page(request, "confirm.html", code=code[:128])


@router.post("/confirm")
async def confirm(post: PostDep) -> Response:
    await post.services.accounts.confirm(text(post.form, "code", 128), post.origin)
    return post.done("flash.confirmed", "/console/login")


async def _mail_if_named(post: _Post, send: Callable[[str], Awaitable[object]]) -> None:
    # The caller answers the same whether or not an address was typed or has an account.
    email = post.email()
    if email:
        await send(email)


@router.post("/confirm/resend")
async def resend(post: PostDep) -> Response:
    accounts = post.services.accounts
    await _mail_if_named(post, lambda email: accounts.resend_confirmation(email, post.origin))
    return post.done("flash.resent", "/console/confirm")


@router.post("/password/forgot")
async def forgot(post: PostDep) -> Response:
    accounts = post.services.accounts
    await _mail_if_named(
        post, lambda email: accounts.request_password_reset(email, "console", post.origin)
    )
    return post.done("flash.reset_sent", "/console/password/reset")


@router.post("/password/reset")
async def reset(post: PostDep) -> Response:
    password = post.new_password()
    await post.services.accounts.reset_password(text(post.form, "code", 128), password, post.origin)
    return post.done("flash.password_changed", "/console/login")


fallback = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@fallback.get("/{rest:path}", response_class=HTMLResponse)
async def not_found(request: Request, session: SessionDep, rest: str) -> Response:
    """Any other console address: a page saying so, not a JSON error."""
    raise ConsoleError(404, "error.not_found")
