"""One policy: may this principal call this route? Deny by default.

:func:`authorize` is the single decision function behind the server's own API, the guard
middleware and the forward-auth endpoint. It is pure: the principal has already been
verified, the catalog already loaded. The steps, first failure wins:

====================  ======  =====================================================
check                 status  reason
====================  ======  =====================================================
path normalizes       400     ``bad_path`` (see :mod:`propusk.core.paths`)
route is public       200     ``public`` (with or without a principal)
route is known        401     ``no_route`` without a principal; 403 with one
principal present     401     ``no_principal``
method is held        403     ``method_not_held``
app in scope          403     ``app_not_in_scope`` / ``no_app_scope``
(all passed)          200     ``allowed``
====================  ======  =====================================================

Methods held: ``principal.methods`` when it is not None, otherwise the union of
``catalog.roles[r]`` for the principal's roles (unknown roles grant nothing).

App scope applies to ``app`` methods only; ``general`` methods return data of all the
organization's apps whatever the credential's app scope (spec section 1). When
``principal.apps`` is a set, the route's ``{app_id}`` must be in it. When it is None, an
account is not app-restricted; a credential (any other ``kind``) is refused with
``no_app_scope``, because the core cannot tell whether that app belongs to the
credential's organization, and letting it through would cross tenants.

The ``reason`` is for logs and metrics only. Callers answer with :attr:`Decision.message`
(or raise :meth:`Decision.error`), which never says *why*: a denied caller must not learn
whether a route exists, which method it is, or which apps a key covers.
"""

from __future__ import annotations

from dataclasses import dataclass

from propusk.core.catalog import APP_ID, Method, MethodCatalog, RouteMatch
from propusk.core.errors import Forbidden, InvalidRequest, PropuskError, Unauthenticated
from propusk.core.paths import PathError, normalize_path
from propusk.core.principals import Principal

__all__ = ["REASONS", "Decision", "Target", "authorize", "decide", "target_of"]

REASONS = frozenset(
    {
        "public",
        "allowed",
        "bad_path",
        "no_route",
        "no_principal",
        "method_not_held",
        "app_not_in_scope",
        "no_app_scope",
    }
)

_ERRORS: dict[int, type[PropuskError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: Forbidden,
}


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of :func:`authorize`.

    ``reason`` is a stable machine word from :data:`REASONS`; ``detail`` adds log context
    (which path rule failed). Neither may be sent to the caller: use :attr:`message`.
    """

    allowed: bool
    status: int
    reason: str
    method: str | None = None
    app_id: str | None = None
    detail: str | None = None

    @property
    def message(self) -> str:
        """The text safe to show the caller: it does not reveal the reason."""
        error = _ERRORS.get(self.status)
        return "OK" if error is None else error.message

    def error(self) -> PropuskError | None:
        """The error to raise for a denial (reason and detail in ``detail``), or None."""
        if self.allowed:
            return None
        error = _ERRORS.get(self.status, Forbidden)
        detail = self.reason if self.detail is None else f"{self.reason}: {self.detail}"
        return error(detail=detail)


def _deny(
    status: int, reason: str, method: str | None = None, app_id: str | None = None
) -> Decision:
    return Decision(False, status, reason, method, app_id)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes: its catalog match (None: no such route), or why its path is
    refused (``bad_path``). Found once per request by :func:`target_of`; both the policy
    and the answer's dialect (the matched method's) need it."""

    match: RouteMatch | None
    bad_path: str | None = None

    @property
    def method(self) -> Method | None:
        return self.match.method if self.match is not None else None


def target_of(verb: str, raw_path: str, catalog: MethodCatalog) -> Target:
    """The route of ``verb raw_path``. ``raw_path`` is the request target as received,
    query included; it is normalized here so that every caller applies the same rules."""
    try:
        segments = normalize_path(raw_path)
    except PathError as exc:
        return Target(None, bad_path=str(exc))
    return Target(catalog.match(verb, segments))


def authorize(
    principal: Principal | None, verb: str, raw_path: str, catalog: MethodCatalog
) -> Decision:
    """Decide whether ``principal`` (None: unauthenticated) may call ``verb raw_path``."""
    return decide(principal, target_of(verb, raw_path, catalog), catalog)


def decide(principal: Principal | None, target: Target, catalog: MethodCatalog) -> Decision:
    """Decide whether ``principal`` (None: unauthenticated) may call the ``target`` route."""
    if target.bad_path is not None:
        return Decision(False, 400, "bad_path", detail=target.bad_path)
    found = target.match
    if found is None:
        return _deny(401 if principal is None else 403, "no_route")
    method = found.method
    if method is None:
        return Decision(True, 200, "public")
    app_id = found.params.get(APP_ID)
    if principal is None:
        return _deny(401, "no_principal", method.name, app_id)
    if principal.methods is not None:
        held = method.name in principal.methods
    else:
        roles = catalog.roles
        held = any(method.name in roles.get(role, ()) for role in principal.roles)
    if not held:
        return _deny(403, "method_not_held", method.name, app_id)
    if method.kind == "app":
        if principal.apps is not None:
            if app_id not in principal.apps:
                return _deny(403, "app_not_in_scope", method.name, app_id)
        elif principal.kind != "account":
            return _deny(403, "no_app_scope", method.name, app_id)
    return Decision(True, 200, "allowed", method.name, app_id)
