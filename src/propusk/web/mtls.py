"""The server's own routes and client certificates (RFC 8705 certificate-bound tokens).

Token endpoints bind what they issue to the connection's client certificate when
``certificate_bound_tokens`` is on; routes that take a Bearer token check the binding the
same way the guard does (:class:`propusk.guard.client_certs.CertificateBound`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from propusk.core.cnf import same_thumbprint, x5t_s256
from propusk.core.errors import InvalidToken
from propusk.core.principals import Principal
from propusk.guard.middleware import request_view
from propusk.wiring import Services

__all__ = ["CertificateBinding", "check_binding", "presented_certificate"]


# Not web.deps.ServicesDep: web.deps itself uses check_binding.
def presented_certificate(request: Request) -> bytes | None:
    """The DER of the client certificate this request came with (direct TLS, or the
    header of a trusted proxy), or None."""
    services: Services = request.app.state.services
    return services.cert_source.presented(request_view(request.scope))


async def binding_thumbprint(request: Request) -> str | None:
    """The ``x5t#S256`` a token issued to this request is bound to: None unless binding
    is enabled and the request came with a client certificate."""
    services: Services = request.app.state.services
    if not services.settings.certificate_bound_tokens:
        return None
    der = presented_certificate(request)
    return x5t_s256(der) if der is not None else None


CertificateBinding = Annotated[str | None, Depends(binding_thumbprint)]


def check_binding(request: Request, principal: Principal) -> Principal:
    """Refuse a certificate-bound token presented without its certificate (401)."""
    bound = principal.cert_thumbprint
    if bound is not None and not same_thumbprint(bound, presented_certificate(request)):
        raise InvalidToken(detail="certificate-bound token without its certificate")
    return principal
