"""A Waves Enterprise node's refusals, and how any refusal becomes one (spec section 2).

A node answers ``{"error": <int>, "message": <text>}`` with its own codes and texts
(``ApiError.scala`` of we-node):

====  ======  ==========================================================================
id    status  when
====  ======  ==========================================================================
2     403     API-key mode: a missing or wrong ``X-API-Key`` (admin routes)
614   403     API-key mode: the same on privacy routes
649   403     API-key mode: the same on confidential-contract routes
618   401     OAuth2 mode: no ``Authorization`` at all
619   401     the token has expired
620   400     the token's claims cannot be parsed
621   403     the token lacks the route's role
622   401     the token is invalid
640   503     an outage: what the route needs (the database, Redis, the authorization
              server) cannot be reached; with ``Retry-After``
====  ======  ==========================================================================

640 is the node's own ``HealthCheckError``, the one node answer with status 503 whose
message is free text: a node sends it when a service it depends on fails its health check,
which is what an outage of Propusk's backends is to the node's client. (The node's other
503, 642 ``TooManyConnections``, names a connection limit and would mislead.)

A route speaks this dialect when its catalog method says ``dialect = "waves"``, or, with
the ``waves_errors`` setting, when the credential is a node-style key. The role a route
needs (the key a 2/614/649 is about, the role a 621 names) is read from the catalog's
``[roles]`` by :func:`route_role`; ``propusk/demo/waves_node.toml`` declares a node's
routes that way.
"""

from __future__ import annotations

from collections.abc import Mapping

from propusk.core.catalog import MethodCatalog
from propusk.core.errors import PropuskError, ServiceUnavailable, TokenExpired
from propusk.core.principals import AuthMethod, Principal
from propusk.core.tokens import InvalidClaims

__all__ = [
    "NODE_ROLE_NAMES",
    "ROLE_ADMIN",
    "ROLE_CONFIDENTIAL_CONTRACTS",
    "ROLE_PRIVACY",
    "ROLE_USER",
    "ApiKeyNotValid",
    "AuthTokenExpired",
    "CantParseJwtClaims",
    "ConfidentialContractsApiKeyNotValid",
    "InvalidTokenError",
    "MissingAuthorization",
    "NoRequiredAuthRole",
    "NodeUnavailable",
    "PrivacyApiKeyNotValid",
    "WavesNodeError",
    "api_key_role",
    "route_role",
    "waves_error",
]

ROLE_ADMIN = "admin"
ROLE_PRIVACY = "privacy"
ROLE_CONFIDENTIAL_CONTRACTS = "confidential_contracts"
ROLE_USER = "user"


class WavesNodeError(PropuskError):
    """A refusal in a node's shape; ``waves_id`` and ``message`` are the node's own."""

    status = 403
    waves_id: int = 2
    message = "Provided API key is not correct"

    @property
    def envelope(self) -> dict[str, object]:
        return {"error": self.waves_id, "message": self.message}


class ApiKeyNotValid(WavesNodeError):
    code = "api_key_not_valid"
    waves_id = 2
    message = "Provided API key is not correct"


class PrivacyApiKeyNotValid(WavesNodeError):
    code = "privacy_api_key_not_valid"
    waves_id = 614
    message = "Provided privacy API key is not correct"


class ConfidentialContractsApiKeyNotValid(WavesNodeError):
    code = "confidential_contracts_api_key_not_valid"
    waves_id = 649
    message = "Provided ConfidentialContracts API key is not correct"


class MissingAuthorization(WavesNodeError):
    code = "waves_missing_authorization"
    status = 401
    waves_id = 618
    message = "Authorization error. Missing authorization metadata"


class AuthTokenExpired(WavesNodeError):
    code = "waves_token_expired"
    status = 401
    waves_id = 619
    message = "Authorization error. Token expired"


class CantParseJwtClaims(WavesNodeError):
    code = "waves_cant_parse_claims"
    status = 400
    waves_id = 620
    message = "Authorization error. Can't parse JWT token claims"


# How the node names its roles in a 621. ApiError.scala interpolates the AuthRole itself
# (s"... No expected role '${role}' "), and an AuthRole is a Scala case object whose
# toString is its object name, not its claim value: "PrivacyUser", not "privacy".
NODE_ROLE_NAMES: Mapping[str, str] = {
    ROLE_USER: "User",
    ROLE_PRIVACY: "PrivacyUser",
    ROLE_ADMIN: "Administrator",
    ROLE_CONFIDENTIAL_CONTRACTS: "ConfidentialContractsUser",
}


class NoRequiredAuthRole(WavesNodeError):
    code = "waves_no_required_role"
    status = 403
    waves_id = 621
    message = "Authorization error. No expected role"

    def __init__(self, role: str, *, detail: str | None = None) -> None:
        # The node's text, trailing space included: "No expected role 'Administrator' ".
        # A provider's own role (not one of the node's four) is named as it is.
        name = NODE_ROLE_NAMES.get(role, role)
        super().__init__(f"Authorization error. No expected role '{name}' ", detail=detail)


class InvalidTokenError(WavesNodeError):
    code = "waves_invalid_token"
    status = 401
    waves_id = 622
    message = "Authorization error. Invalid token"


class NodeUnavailable(WavesNodeError):
    """An outage on a Waves route: the node's ``HealthCheckError`` (640, HTTP 503), with
    Propusk's own text and the outage's ``Retry-After`` (rendered by the dialects)."""

    code = "waves_unavailable"
    status = 503
    waves_id = 640
    message = "The service is temporarily unavailable, try again shortly"

    def __init__(self, outage: ServiceUnavailable, *, detail: str | None = None) -> None:
        super().__init__(outage.message, detail=detail)
        self.retry_after = outage.retry_after


_API_KEY_ERRORS: Mapping[str, type[WavesNodeError]] = {
    ROLE_ADMIN: ApiKeyNotValid,
    ROLE_PRIVACY: PrivacyApiKeyNotValid,
    ROLE_CONFIDENTIAL_CONTRACTS: ConfidentialContractsApiKeyNotValid,
}
# The roles a node protects its own routes with, besides user and admin.
_NARROW_ROLES = (ROLE_PRIVACY, ROLE_CONFIDENTIAL_CONTRACTS)


def route_role(catalog: MethodCatalog, method: str | None) -> str:
    """The node role a route needs, read from the catalog's ``[roles]``.

    ``user`` when the user role holds the method: on a node an endpoint needing ``user``
    accepts any known role, so such a method is held by the narrower roles too and must
    not be taken for theirs. Otherwise the narrow role (privacy, confidential contracts)
    that holds it, and ``admin`` for the rest (or for no route at all).
    """
    if method is None:
        return ROLE_ADMIN
    if method in catalog.roles.get(ROLE_USER, frozenset()):
        return ROLE_USER
    everything = len(catalog.methods)
    for role in _NARROW_ROLES:
        held = catalog.roles.get(role, frozenset())
        # A role holding every method ("*") says nothing about this route.
        if method in held and len(held) < everything:
            return role
    return ROLE_ADMIN


def api_key_role(catalog: MethodCatalog, method: str | None) -> str:
    """The role whose key a node in API-key mode would have asked for on this method's
    routes. A node leaves its user routes unprotected in that mode; Propusk does not, and
    answers a wrong key there with the admin key's error (2)."""
    role = route_role(catalog, method)
    return ROLE_ADMIN if role == ROLE_USER else role


def waves_error(
    error: PropuskError,
    *,
    presented: AuthMethod | None,
    principal: Principal | None,
    route_method: str | None,
    catalog: MethodCatalog,
    api_key_mode: bool,
) -> PropuskError:
    """``error`` as the node would have said it. An outage is the node's 640 whatever the
    credential; other errors that are not about credentials (a malformed path, an
    oversized body, too many attempts) keep Propusk's own answer."""
    if isinstance(error, WavesNodeError):
        return error
    detail = f"waves: {error.code}" + (f" ({error.detail})" if error.detail else "")
    if isinstance(error, ServiceUnavailable):
        return NodeUnavailable(error, detail=detail)
    if error.status not in (401, 403) and not isinstance(error, InvalidClaims):
        return error
    kind = presented or (principal.method if principal is not None else None)
    if kind == "api-key":
        return _API_KEY_ERRORS[api_key_role(catalog, route_method)](detail=detail)
    if kind is None:
        if route_method is None:
            return error  # no such route: nothing a node would have said
        if api_key_mode:
            return _API_KEY_ERRORS[api_key_role(catalog, route_method)](detail=detail)
        return MissingAuthorization(detail=detail)
    if isinstance(error, TokenExpired):
        return AuthTokenExpired(detail=detail)
    if isinstance(error, InvalidClaims):
        return CantParseJwtClaims(detail=detail)
    if error.status == 403:
        return NoRequiredAuthRole(route_role(catalog, route_method), detail=detail)
    return InvalidTokenError(detail=detail)
