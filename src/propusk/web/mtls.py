"""The server's token endpoints and client certificates (RFC 8705 certificate-bound
tokens): what they issue is bound to the connection's client certificate when
``certificate_bound_tokens`` is on. The gate checks the binding on every route that takes
a token (:meth:`propusk.guard.gate.Gate.identify`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from propusk.core.cnf import x5t_s256
from propusk.guard.request import request_view
from propusk.wiring import Services

__all__ = ["CertificateBinding", "presented_certificate"]


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
