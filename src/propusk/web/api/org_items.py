"""The routes every kind of an organization's items shares: its apps, its members and each
kind of credential are listed, read, disabled and enabled, and deleted the same way.

An :class:`OrgItems` is told where the items live (the collection's path and the name and
length of the item id in it) and how one answers (a function from the service's view to
the JSON body); per route, it is told which service call does the work. The routes that
differ from kind to kind (create, update, rotate) stay in the kind's router, written with
the :data:`OrgChange` and :attr:`OrgItems.change` dependencies, which bundle what every
change needs: the organization, the caller, the services and the request's origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import APIRouter, Depends, Path, Response

from propusk.core.principals import Principal
from propusk.services.audit import Origin
from propusk.services.scopes import KeyScope, patched_scope
from propusk.web.api.models import ID_TEXT, OrgId, Scoped
from propusk.web.deps import BearerPrincipal, OriginDep, ServicesDep
from propusk.wiring import Services

__all__ = ["ItemCall", "OrgCall", "OrgChange", "OrgItems", "ScopePatch", "scope_of_patch"]

T = TypeVar("T")
View = TypeVar("View")
# The service calls, by what they take after the acting account and the organization.
Lister = Callable[[str, str], Awaitable[Sequence[View]]]
Getter = Callable[[str, str, str], Awaitable[View]]
Action = Callable[[str, str, str, Origin], Awaitable[View]]
Remover = Callable[[str, str, str, Origin], Awaitable[None]]
StatusSetter = Callable[[str, str, str, str, Origin], Awaitable[View]]


@dataclass(frozen=True)
class OrgCall:
    """A change to an organization: which one, who asks, the services, and where from."""

    org_id: str
    principal: Principal
    services: Services
    origin: Origin

    @property
    def actor(self) -> str:
        return self.principal.subject


@dataclass(frozen=True)
class ItemCall(OrgCall):
    """A change to one item of an organization."""

    item_id: str

    @property
    def target(self) -> tuple[str, str, str, Origin]:
        """What every service's change call starts with: actor, org, item, origin."""
        return self.actor, self.org_id, self.item_id, self.origin

    def target_with(self, value: T) -> tuple[str, str, str, T, Origin]:
        """The same for a call that takes one value before the origin (a role, a name)."""
        return self.actor, self.org_id, self.item_id, value, self.origin


async def _org_call(
    org_id: OrgId, principal: BearerPrincipal, services: ServicesDep, origin: OriginDep
) -> OrgCall:
    return OrgCall(org_id, principal, services, origin)


OrgChange = Annotated[OrgCall, Depends(_org_call)]


class OrgItems(Generic[View]):
    """Adds the shared routes for one kind of item to ``router``, at ``path`` (the
    collection, relative to the router's prefix) and ``path/{id_name}``.

    The endpoints have no docstrings on purpose: FastAPI would publish them as the
    routes' descriptions, and these routes have none.
    """

    def __init__(
        self,
        router: APIRouter,
        path: str,
        *,
        id_name: str,
        id_max_length: int,
        answer: Callable[[View], dict[str, Any]],
    ) -> None:
        self._router = router
        self._path = path
        self._item_path = f"{path}/{{{id_name}}}"
        self._answer = answer
        # The id as the kind's router declares it: named as in the path (so a validation
        # error's ``loc`` and the OpenAPI parameter keep that name), bounded, and without
        # control characters (see models.ID_TEXT).
        self._id_type = Annotated[
            str, Path(alias=id_name, max_length=id_max_length, pattern=ID_TEXT)
        ]

        async def change(
            org_id: OrgId,
            item_id: str,
            principal: BearerPrincipal,
            services: ServicesDep,
            origin: OriginDep,
        ) -> ItemCall:
            return ItemCall(org_id, principal, services, origin, item_id)

        #: The dependency for a change to one item: ``Annotated[ItemCall, Depends(it)]``.
        self.change = self._typed(change)

    def _typed(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        # The id's type and the change dependency are decided per kind, so they cannot be
        # written in the signatures: they are set here, before FastAPI reads them.
        hints = endpoint.__annotations__
        if "item_id" in hints:
            hints["item_id"] = self._id_type
        if "item" in hints:
            hints["item"] = Annotated[ItemCall, Depends(self.change)]
        return endpoint

    def _add(
        self, path: str, endpoint: Callable[..., Any], method: str, name: str, **options: Any
    ) -> None:
        self._router.add_api_route(
            path, self._typed(endpoint), methods=[method], name=name, **options
        )

    def list(self, name: str, call: Callable[[Services], Lister[View]]) -> None:
        """``GET path``: ``{"items": [...]}``, every item the caller may see."""
        answer = self._answer

        async def endpoint(
            org_id: OrgId, principal: BearerPrincipal, services: ServicesDep
        ) -> dict[str, Any]:
            items = await call(services)(principal.subject, org_id)
            return {"items": [answer(item) for item in items]}

        self._add(self._path, endpoint, "GET", name)

    def get(self, name: str, call: Callable[[Services], Getter[View]]) -> None:
        """``GET path/{id}``: one item."""
        answer = self._answer

        async def endpoint(
            org_id: OrgId, item_id: str, principal: BearerPrincipal, services: ServicesDep
        ) -> dict[str, Any]:
            return answer(await call(services)(principal.subject, org_id, item_id))

        self._add(self._item_path, endpoint, "GET", name)

    def action(self, verb: str, name: str, call: Callable[[Services], Action[View]]) -> None:
        """``POST path/{id}/verb`` without a body: the item as the action left it."""
        answer = self._answer

        async def endpoint(item: ItemCall) -> dict[str, Any]:
            return answer(await call(item.services)(*item.target))

        self._add(f"{self._item_path}/{verb}", endpoint, "POST", name)

    def disable_and_enable(self, call: Callable[[Services], StatusSetter[View]]) -> None:
        """``POST path/{id}/disable`` and ``/enable`` (routes ``disable_key``, ``enable_key``):
        the status ``disabled`` or ``active``."""
        for verb, status in (("disable", "disabled"), ("enable", "active")):
            self.action(verb, f"{verb}_key", _with_status(call, status))

    def delete(self, name: str, call: Callable[[Services], Remover]) -> None:
        """``DELETE path/{id}``: 204 and no body."""

        async def endpoint(item: ItemCall) -> Response:
            await call(item.services)(*item.target)
            return Response(status_code=204)

        self._add(self._item_path, endpoint, "DELETE", name, status_code=204)


def _with_status(
    call: Callable[[Services], StatusSetter[View]], status: str
) -> Callable[[Services], Action[View]]:
    def bound(services: Services) -> Action[View]:
        set_status = call(services)

        def act(actor: str, org_id: str, key_id: str, origin: Origin) -> Awaitable[View]:
            return set_status(actor, org_id, key_id, status, origin)

        return act

    return bound


class ScopePatch(Protocol):
    """The scope fields of a credential's PATCH body (each kind adds its own fields)."""

    @property
    def appIds(self) -> Sequence[str] | None: ...

    @property
    def allApps(self) -> bool | None: ...

    @property
    def methods(self) -> Sequence[str] | None: ...


async def scope_of_patch(body: ScopePatch, get: Getter[Scoped], key: ItemCall) -> KeyScope | None:
    """The scope a PATCH body asks for, or None when it names no part of it. The key's
    current scope (for the half the body leaves out) is read with ``get`` only when it is
    needed."""
    if body.appIds is None and not body.allApps and body.methods is None:
        return None
    now = await get(key.actor, key.org_id, key.item_id)
    return patched_scope(body.appIds, body.allApps, body.methods, now.apps, now.methods)
