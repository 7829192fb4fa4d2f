"""Direct TLS for ``propusk serve``: the server context and the ASGI TLS extension.

Uvicorn verifies client certificates (``ssl_cert_reqs``) but, like Hypercorn and Granian,
does not tell the application which certificate the client presented: the ASGI TLS
extension (``scope["extensions"]["tls"]``, https://asgi.readthedocs.io/en/latest/specs/tls.html)
is not implemented by any of them in a release yet. :class:`TLSExtensionProtocol` is the
smallest addition that does it: Uvicorn's own HTTP/1.1 protocol class, which after the
handshake reads the verified peer certificate from the transport's ``ssl_object`` once per
connection and adds the extension to the scope of every request on that connection. It
is passed to Uvicorn as ``http=`` — no fork, no monkey-patching.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ServerContextFactory", "TLSExtensionProtocol", "server_ssl_context", "tls_extension"]

# IANA TLS version numbers (the ASGI TLS extension's ``tls_version``).
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def server_ssl_context(
    cert: Path,
    key: Path,
    client_cas: Sequence[str],
    *,
    require_client_cert: bool = False,
) -> ssl.SSLContext:
    """A TLS 1.2+ server context that asks for a client certificate.

    ``client_cas`` are PEM texts (the Propusk CA, extra CAs). With CAs the server sends a
    CertificateRequest on every handshake: a client may answer without a certificate
    (``CERT_OPTIONAL``: other credentials still work on the same port) unless
    ``require_client_cert``; a certificate that does not verify fails the handshake.
    Partial chains are allowed so that a Propusk CA that is itself an intermediate (under
    the provider's root) is a trust anchor on its own.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    if client_cas:
        context.load_verify_locations(cadata="\n".join(client_cas))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    elif require_client_cert:
        raise ValueError("client certificates are required but no CA is configured")
    return context


@dataclass(frozen=True)
class ServerContextFactory:
    """Uvicorn's ``ssl_context_factory`` as a picklable object: with ``--workers`` every
    worker process gets a copy and builds the same context from it."""

    cert: Path
    key: Path
    client_cas: tuple[str, ...]
    require_client_cert: bool = False

    def __call__(self, config: object, default: object) -> ssl.SSLContext:
        return server_ssl_context(
            self.cert, self.key, self.client_cas, require_client_cert=self.require_client_cert
        )


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension for a connection (None when it is not TLS).

    ``client_cert_chain`` holds only the leaf: before Python 3.13 ``ssl`` exposes no
    verified chain, and the leaf is what authentication needs. ``server_cert``,
    ``client_cert_name``, ``client_cert_error`` and ``cipher_suite`` are None, as the
    specification allows (a certificate that fails verification never gets here: it
    fails the handshake).
    """
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


def _with_extension(app: ASGIApp, extension: dict[str, Any]) -> ASGIApp:
    async def with_tls(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            # A new dict per request: Uvicorn's scopes share nothing, and neither may we.
            scope["extensions"] = {**scope.get("extensions", {}), "tls": dict(extension)}
        await app(scope, receive, send)

    return with_tls


class TLSExtensionProtocol(HttpToolsProtocol):
    """Uvicorn's HTTP/1.1 protocol plus the ASGI TLS extension (see the module doc)."""

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        extension = tls_extension(transport)
        if extension is not None:
            # Uvicorn reads self.app for each request of the connection.
            self.app = _with_extension(self.app, extension)
