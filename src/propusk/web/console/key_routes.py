"""Routes the key-like credential kinds share, each written once here.

- :func:`add_key_actions`: the buttons on a key's row — ``POST …/{key_id}/{verb}``, one
  service call, a message, back to the kind's table (disable, enable, delete, revoke).
- :func:`add_confirm_page`: the page that asks before a key is replaced or deleted
  (``GET`` of the address its form then posts to).
- :func:`add_secret_routes`: create and renew for the kinds whose secret Propusk makes
  (service keys, API keys). The secret exists only in the answer to that POST: a page
  of its own, ``Cache-Control: no-store``, and no GET renders it, so it cannot be shown
  again — reloading asks the browser to post again, which makes another secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from propusk.services.audit import Origin
from propusk.services.orgs import Action
from propusk.services.scopes import KeyScope
from propusk.web.api.models import KeyId
from propusk.web.console.org_context import OrgPageDep, OrgPost, OrgPostDep
from propusk.web.console.render import text
from propusk.web.console.scope_form import scope_from
from propusk.wiring import Services

__all__ = [
    "KeyAction",
    "SecretKind",
    "SecretService",
    "Who",
    "add_confirm_page",
    "add_key_actions",
    "add_secret_routes",
    "status_actions",
]

Who = tuple[str, str]  # (account id, organization id), as OrgPage.who gives it
KeyCall = Callable[[Services, Who, str, Origin], Awaitable[object]]
SetStatus = Callable[[str, str, str, str, Origin], Awaitable[object]]


class _Issued(Protocol):
    @property  # the key as its table shows it; the rest of the answer is the secret
    def view(self) -> object: ...


New = TypeVar("New", bound=_Issued)  # NewKey, NewApiKey: the key's view and its secret
New_co = TypeVar("New_co", bound=_Issued, covariant=True)


class SecretService(Protocol[New_co]):
    """What the service of a kind with Propusk-made secrets answers to here."""

    async def create(
        self, actor: str, org_id: str, name: str, scope: KeyScope, origin: Origin, /
    ) -> New_co: ...

    async def get(self, actor: str, org_id: str, key_id: str, /) -> object: ...


def _path(section: str, tail: str = "") -> str:
    return f"/orgs/{{org_id}}/{section}{tail}"


@dataclass(frozen=True)
class KeyAction:
    """A button on a key's row: ``verb`` is the last segment of the address it posts to,
    ``call`` the service call, ``flash`` the message key for the table it returns to."""

    verb: str
    call: KeyCall
    flash: str


def _set_status(service: Callable[[Services], SetStatus], status: str) -> KeyCall:
    async def call(services: Services, who: Who, key_id: str, origin: Origin) -> object:
        return await service(services)(*who, key_id, status, origin)

    return call


def status_actions(service: Callable[[Services], SetStatus]) -> tuple[KeyAction, ...]:
    """Disable and enable, for a kind whose service has ``set_status``."""
    return (
        KeyAction("disable", _set_status(service, "disabled"), "flash.key_disabled"),
        KeyAction("enable", _set_status(service, "active"), "flash.key_enabled"),
    )


def _action_route(section: str, action: KeyAction) -> Callable[..., Awaitable[Response]]:
    async def route(key_id: KeyId, post: OrgPostDep) -> Response:
        await action.call(post.services, post.who, key_id, post.origin)
        return post.done(action.flash, section)

    return route


def add_key_actions(router: APIRouter, section: str, actions: Iterable[KeyAction]) -> None:
    """``POST /orgs/{org_id}/{section}/{key_id}/{verb}`` for each of ``actions``."""
    for action in actions:
        endpoint = _action_route(section, action)
        path = _path(section, f"/{{key_id}}/{action.verb}")
        router.add_api_route(path, endpoint, methods=["POST"], name=f"{section}.{action.verb}")


@dataclass(frozen=True)
class SecretKind(Generic[New]):
    r"""A kind whose secret Propusk makes (service keys, API keys): its ``section``, the
    role right that ``manage``\s it, its ``service``, and how that service renews a
    secret (``renew``, under the address ending in ``renew_verb``)."""

    section: str
    renew_verb: str
    manage: Action
    service: Callable[[Services], SecretService[New]]
    renew: Callable[[Services], Callable[[str, str, str, Origin], Awaitable[New]]]


def add_confirm_page(router: APIRouter, kind: SecretKind[New], verb: str, template: str) -> None:
    """``GET /orgs/{org_id}/{section}/{key_id}/{verb}``: ``template`` with the ``key`` and
    the ``verb``, for those whose role may manage the kind; its form posts to the same
    address."""

    async def route(key_id: KeyId, view: OrgPageDep) -> Response:
        view.need(kind.manage)
        key = await kind.service(view.services).get(*view.who, key_id)
        return view.render(template, kind.section, key=key, verb=verb)

    path = _path(kind.section, f"/{{key_id}}/{verb}")
    name = f"{kind.section}.{verb}_form"
    router.add_api_route(path, route, methods=["GET"], response_class=HTMLResponse, name=name)


def add_secret_routes(router: APIRouter, kind: SecretKind[New], shown: str, ask: str) -> None:
    """``POST /orgs/{org_id}/{section}`` (create, from the name and the scope form) and
    ``POST …/{key_id}/{renew_verb}``, both answered with ``shown`` — the page with the
    new secret (rendered with the answer as ``new``, its ``key`` and whether it was
    ``renewed``) — and, before renewing, the page ``ask`` at the renew address."""

    def answer(post: OrgPost, new: New, renewed: bool) -> Response:
        return post.render(shown, kind.section, key=new.view, new=new, renewed=renewed)

    async def create(post: OrgPostDep) -> Response:
        name, scope = text(post.form, "name", 255), scope_from(post.form)
        new = await kind.service(post.services).create(*post.who, name, scope, post.origin)
        return answer(post, new, renewed=False)

    async def renew(key_id: KeyId, post: OrgPostDep) -> Response:
        new = await kind.renew(post.services)(*post.who, key_id, post.origin)
        return answer(post, new, renewed=True)

    section, verb = kind.section, kind.renew_verb
    router.add_api_route(_path(section), create, methods=["POST"], name=f"{section}.create")
    add_confirm_page(router, kind, verb, ask)
    path = _path(section, f"/{{key_id}}/{verb}")
    router.add_api_route(path, renew, methods=["POST"], name=f"{section}.{verb}")
