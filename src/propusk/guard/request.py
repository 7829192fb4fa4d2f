"""What the gate looks at: a :class:`RequestView` of the request, never the ASGI scope.

:func:`request_view` builds one from an ASGI scope (the middleware, forward-auth and the
FastAPI dependency all start here), with the header cap applied once.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from starlette.types import Scope

from propusk.core.errors import PropuskError

__all__ = [
    "MAX_HEADER_BYTES",
    "ROUTE_DIALECT",
    "TLS_CLIENT_CERT",
    "HeaderTooLarge",
    "RequestView",
    "request_method",
    "request_view",
    "tls_client_cert",
]

MAX_HEADER_BYTES = 16384
TLS_CLIENT_CERT = "tls_client_cert"
"""The ``RequestView.extra`` key of the verified peer certificate (DER) on direct TLS."""
ROUTE_DIALECT = "route_dialect"
"""The ``RequestView.extra`` key the gate sets to ``"qiwi-xml"`` on partner XML API routes
(the password and signature verifiers read the body as XML only there)."""


@dataclass(frozen=True)
class RequestView:
    """The request as the verifiers see it.

    ``headers`` have lower-case names, repeated headers joined with ``", "``; ``path`` is
    raw (still percent-encoded, query included only for forward-auth questions);
    ``body`` is set only when a verifier asked for it (signed requests). ``query`` and
    ``scheme`` are what RFC 9421 signatures cover as ``@query`` and ``@scheme``.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    client: str | None = None
    body: bytes | None = None
    extra: Mapping[str, object] = field(default_factory=dict)
    query: str = ""
    scheme: str = "http"

    def retarget(self, method: str, path: str) -> RequestView:
        """The same caller and headers asking about another request (forward-auth: the
        proxy's question names the original verb and URI)."""
        # No transport facts: the TLS peer of a forward-auth question is the proxy itself.
        return replace(self, method=method, path=path, query="", body=None, extra={})


class HeaderTooLarge(PropuskError):
    code = "header_too_large"
    status = 431
    message = "Request headers are too large"


def request_method(scope: Scope) -> str:
    """The HTTP verb; a WebSocket handshake is a GET (RFC 6455), and so is matched."""
    method = scope.get("method")
    return method if isinstance(method, str) else "GET"


def tls_client_cert(scope: Scope) -> bytes | None:
    """The DER of the client certificate the ASGI server verified in the TLS handshake
    (the ASGI TLS extension, ``client_cert_chain[0]`` in PEM), or None."""
    extensions = scope.get("extensions")
    if not isinstance(extensions, Mapping):
        return None
    tls = extensions.get("tls")
    if not isinstance(tls, Mapping):
        return None
    chain = tls.get("client_cert_chain")
    if not chain or isinstance(chain, str | bytes):
        return None
    first = next(iter(chain))
    if not isinstance(first, str):
        return None
    try:
        return ssl.PEM_cert_to_DER_cert(first)
    except ValueError:
        return None  # a server bug, not the client's doing: no certificate


def request_view(scope: Scope) -> RequestView:
    """The view of an ASGI HTTP or WebSocket scope (HeaderTooLarge past the cap)."""
    headers: dict[str, str] = {}
    total = 0
    for raw_name, raw_value in scope.get("headers", []):
        total += len(raw_name) + len(raw_value)
        if total > MAX_HEADER_BYTES:
            raise HeaderTooLarge()
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else scope["path"]
    client = scope.get("client")
    # Transport facts: the peer certificate the server verified itself (direct TLS).
    peer_cert = tls_client_cert(scope)
    return RequestView(
        method=request_method(scope),
        path=path,
        headers=headers,
        client=client[0] if client else None,
        extra={TLS_CLIENT_CERT: peer_cert} if peer_cert is not None else {},
        query=bytes(scope.get("query_string", b"")).decode("latin-1"),
        scheme="https" if scope.get("scheme") in ("https", "wss") else "http",
    )
