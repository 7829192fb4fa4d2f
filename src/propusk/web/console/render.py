"""Rendering and the request plumbing every console route shares.

- :class:`ConsoleRoute` turns errors into HTML (a refused form goes back to its page with
  the message; anything else is an error page) and seals the session into the response.
- :data:`SessionDep` / :data:`SignedIn` load the session; :data:`FormDep` parses a posted
  form and refuses it with 403 unless it carries the session's CSRF token — every POST
  route takes it, and a test walks the routes to prove that.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from propusk.core.errors import PropuskError, ServiceUnavailable
from propusk.web.console.i18n import has_key, translate
from propusk.web.console.session import ConsoleSession, check_csrf, load_session, write_cookie
from propusk.web.deps import OriginDep, ServicesDep

__all__ = [
    "ConsoleError",
    "ConsoleRoute",
    "FormDep",
    "SessionDep",
    "SignedIn",
    "back_to",
    "page",
    "redirect",
]

log = logging.getLogger("propusk.console")
HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _b64(value: str | None) -> str:
    return base64.b64encode((value or "").encode()).decode("ascii")


def _filename(value: str) -> str:
    """A download file name from a key name: letters, digits, ``-`` and ``_`` only."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "-", value).strip("-")[:64]
    return clean or "key"


_env.filters["b64"] = _b64
_env.filters["filename"] = _filename
# Pages are rendered per person and may hold secrets: no cache keeps them, no frame shows
# them, scripts and styles come only from /console/static (no inline code, no CDN).
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class ConsoleError(Exception):
    """An error page: HTTP status and a message key from the catalog."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


class _LoginRequired(Exception):
    pass


def _session_of(request: Request) -> ConsoleSession | None:
    session: ConsoleSession | None = getattr(request.state, "console", None)
    return session


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` for the caller's session and locale."""
    session = _session_of(request)
    locale = session.locale if session else "en"

    def _(key: str, **values: Any) -> str:
        return translate(locale, key, **values)

    def role_name(role: str) -> str:
        return translate(locale, f"role.{role}") if has_key(f"role.{role}") else role

    html = _env.get_template(template).render(
        role_name=role_name,
        request=request,
        session=session,
        locale=locale,
        csrf=session.csrf if session else "",
        flash=session.take_flash() if session else None,
        _=_,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def back_to(request: Request) -> str:
    """Where a refused form returns: the page it was posted from, if that is a console
    page of this server (never another site: the Referer is only a hint)."""
    referer = urlsplit(request.headers.get("referer", ""))
    same = not referer.netloc or referer.netloc == request.url.netloc
    if same and referer.path.startswith("/console/") and "//" not in referer.path:
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/console/"


def _error_page(request: Request, status: int, key: str, detail: str | None = None) -> Response:
    key = key if has_key(key) else "error.title"
    return page(request, "error.html", status=status, error_key=key, detail=detail)


def _propusk_error_page(request: Request, exc: PropuskError) -> Response:
    response = _error_page(request, exc.status, f"error.{exc.code}", exc.message)
    retry = getattr(exc, "retry_after", None)
    if isinstance(retry, int):  # an outage (503) or a throttle (429)
        response.headers["Retry-After"] = str(retry)
    return response


class ConsoleRoute(APIRoute):
    """HTML errors and the session cookie for every console route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except _LoginRequired:
                target = quote(request.url.path, safe="/")
                response = redirect(f"/console/login?next={target}")
            except ConsoleError as exc:
                response = _error_page(request, exc.status, exc.key)
            except RequestValidationError:
                response = _error_page(request, 400, "error.invalid")
            except StarletteHTTPException as exc:  # e.g. a form with too many fields
                response = _error_page(request, exc.status_code, "error.invalid")
            except PropuskError as exc:
                session = _session_of(request)
                if request.method == "POST" and session is not None and exc.status < 500:
                    session.say("error", exc.message)
                    response = redirect(back_to(request))
                else:
                    response = _propusk_error_page(request, exc)
            session = _session_of(request)
            if session is not None:
                services = request.app.state.services
                try:
                    await write_cookie(request, response, services, session)
                except ServiceUnavailable as exc:
                    # Sealing the cookie needs the keyring; without the database (and no
                    # keyring read yet) the page is an outage page, the cookie unchanged.
                    response = _propusk_error_page(request, exc)
            return response

        return handler


async def _session(request: Request, services: ServicesDep, origin: OriginDep) -> ConsoleSession:
    session = await load_session(request, services, origin)
    request.state.console = session
    return session


SessionDep = Annotated[ConsoleSession, Depends(_session)]


async def _signed_in(session: SessionDep) -> ConsoleSession:
    if not session.signed_in:
        raise _LoginRequired()
    return session


SignedIn = Annotated[ConsoleSession, Depends(_signed_in)]

MAX_FIELDS = 2000


async def _form(request: Request, session: SessionDep) -> AsyncIterator[FormData]:
    form = await request.form(max_files=2, max_fields=MAX_FIELDS)
    try:
        if not check_csrf(session, form.get("csrf")):
            # Nothing has happened yet: the check runs before the route's own code.
            log.info(
                "console: %s %s refused, CSRF token missing or wrong",
                request.method,
                request.url.path,
            )
            raise ConsoleError(403, "error.csrf")
        yield form
    finally:
        await form.close()  # uploaded files live in temporary files until closed


FormDep = Annotated[FormData, Depends(_form)]


def text(form: FormData, name: str, limit: int = 1024) -> str:
    """A form field as text, or InvalidRequest-like refusal when too long."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if len(value) > limit:
        raise ConsoleError(400, "error.invalid")
    return value.strip()


def texts(form: FormData, name: str, limit: int = 64) -> list[str]:
    values = [v for v in form.getlist(name) if isinstance(v, str)]
    if any(len(v) > limit for v in values):
        raise ConsoleError(400, "error.invalid")
    return values
