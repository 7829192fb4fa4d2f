"""Request-scoped dependencies: the services, the caller's origin, the Bearer principal."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from propusk.core.errors import Forbidden, Unauthenticated
from propusk.core.principals import AuthMethod, Principal
from propusk.guard.request import request_view
from propusk.services.audit import Origin
from propusk.wiring import Services

__all__ = ["AdminPrincipal", "BearerPrincipal", "OriginDep", "ServicesDep", "client_ip"]

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /v1/auth/login")


async def get_services(request: Request) -> Services:
    # async: a plain def would be run in a worker thread on every request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_ip(
    request: Request, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str | None:
    """The caller's address. ``X-Forwarded-For`` is believed only when the direct peer is a
    configured trusted proxy, and then only up to the first hop that is not trusted."""
    peer = request.client.host if request.client else None
    if peer is None:
        return None
    chain = [peer]
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        chain = [h.strip() for h in forwarded.split(",")[-20:] if h.strip()] + [peer]
    for hop in reversed(chain):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return hop[:64] if hop is peer else peer
        if not any(address in net for net in trusted):
            return str(address)
    return chain[0]


def get_origin(request: Request, services: ServicesDep) -> Origin:
    trusted = request.app.state.trusted_proxies
    agent = request.headers.get("user-agent")
    return Origin(ip=client_ip(request, trusted), user_agent=agent[:256] if agent else None)


OriginDep = Annotated[Origin, Depends(get_origin)]


ACCOUNT_TOKENS: frozenset[AuthMethod] = frozenset({"bearer"})


async def get_principal(
    request: Request,
    services: ServicesDep,
    # Declared for the OpenAPI document's Bearer scheme; the gate reads the header itself.
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The account behind the request's Bearer token, by the same gate as every guarded
    request (certificate-bound tokens need their certificate, RFC 8705)."""
    view = request_view(request.scope)
    principal = await services.gate.identify(view, only=ACCOUNT_TOKENS)
    if principal is None:
        raise Unauthenticated()
    return principal


BearerPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_admin(principal: BearerPrincipal) -> Principal:
    if not principal.has_role("admin"):
        raise Forbidden("This requires the admin role")
    return principal


AdminPrincipal = Annotated[Principal, Depends(get_admin)]
