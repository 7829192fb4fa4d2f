"""``PropuskGuard``: ASGI middleware that authenticates, authorizes, and only then calls
the protected application.

    app = FastAPI()
    app.add_middleware(
        PropuskGuard,
        catalog=load_catalog("methods.toml"),
        authenticators=[BearerAuthenticator(JWKSVerifier(
            "https://auth.example.com/.well-known/jwks.json", issuer="https://auth.example.com"))],
    )

The route handler finds the caller with ``principal_of(request.scope)``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from starlette.types import ASGIApp, Receive, Scope, Send

from propusk.core.catalog import MethodCatalog
from propusk.core.errors import PropuskError
from propusk.core.policy import Decision, authorize
from propusk.core.principals import Principal
from propusk.guard.authenticators import Authenticator, RequestView
from propusk.guard.body import (
    DEFAULT_MAX_BODY_BYTES,
    ClientGone,
    body_readers,
    error_format,
    read_body,
    replaying,
    signing_send,
    wants_body,
)
from propusk.guard.client_certs import TLS_CLIENT_CERT, tls_client_cert
from propusk.guard.signatures import ERROR_FORMAT, QIWI_XML, ResponseSigner, qiwi_error
from propusk.guard.waves import WavesApiError

__all__ = [
    "DECISION_KEY",
    "PRINCIPAL_KEY",
    "PropuskGuard",
    "authenticate",
    "denial_error",
    "envelope_of",
    "principal_of",
]

log = logging.getLogger("propusk.guard")
PRINCIPAL_KEY = "propusk.principal"
DECISION_KEY = "propusk.decision"
MAX_HEADER_BYTES = 16384


def principal_of(scope: Scope) -> Principal | None:
    """The Principal the guard put in the scope: None when the request carried no
    credential (which only a public route lets through)."""
    value = scope.get(PRINCIPAL_KEY)
    return value if isinstance(value, Principal) else None


class HeaderTooLarge(PropuskError):
    code = "header_too_large"
    status = 431
    message = "Request headers are too large"


def request_method(scope: Scope) -> str:
    """The HTTP verb; a WebSocket handshake is a GET (RFC 6455), and so is matched."""
    method = scope.get("method")
    return method if isinstance(method, str) else "GET"


def request_view(scope: Scope) -> RequestView:
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


async def authenticate(
    authenticators: Sequence[Authenticator], request: RequestView
) -> Principal | None:
    """The first authenticator whose credential is present decides who the caller is."""
    for authenticator in authenticators:
        principal = await authenticator.authenticate(request)
        if principal is not None:
            return principal
    return None


def www_authenticate(code: str) -> str:
    """The Bearer challenge (RFC 6750) sent with every 401, by the server and the guard."""
    if code in ("invalid_token", "token_expired"):
        return 'Bearer realm="propusk", error="invalid_token"'
    return 'Bearer realm="propusk"'


def envelope_of(exc: PropuskError) -> Mapping[str, object]:
    """The JSON body of a refusal: Propusk's ``{"error": code, "message"}``, or the one a
    protocol's error carries (Waves-compatible API keys answer as a node does)."""
    if isinstance(exc, WavesApiError):
        return exc.envelope
    return {"error": exc.code, "message": exc.message}


def error_body(
    status: int, code: str, message: str, envelope: Mapping[str, object] | None = None
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    data = envelope if envelope is not None else {"error": code, "message": message}
    body = json.dumps(data, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", www_authenticate(code).encode()))
    return body, headers


def decision_error(decision: Decision) -> tuple[int, str, str]:
    """Status, code and the opaque public message for a denial (the reason stays in logs)."""
    error = decision.error()
    assert error is not None
    return error.status, error.code, error.message


@runtime_checkable
class RestatesDenials(Protocol):
    """An authenticator that answers some policy denials in its protocol's envelope."""

    def restate_denial(
        self, request: RequestView, principal: Principal | None, decision: Decision
    ) -> PropuskError | None: ...


def denial_error(
    authenticators: Sequence[Authenticator],
    request: RequestView,
    principal: Principal | None,
    decision: Decision,
) -> PropuskError:
    """The error to answer a denial with: the policy's own (opaque) one, unless an
    authenticator restates it (with ``waves_errors``, a missing key is a node's error 2)."""
    for authenticator in authenticators:
        if isinstance(authenticator, RestatesDenials):
            restated = authenticator.restate_denial(request, principal, decision)
            if restated is not None:
                return restated
    error = decision.error()
    assert error is not None
    return error


class PropuskGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        catalog: MethodCatalog,
        authenticators: Sequence[Authenticator],
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        response_signer: ResponseSigner | None = None,
        qiwi_http_200: bool = False,
    ) -> None:
        self.app = app
        self.catalog = catalog
        self.authenticators = tuple(authenticators)
        # Signed requests (guard/signatures.py): the body cap, checked before hashing; the
        # key that signs responses (None: unsigned); HTTP 200 for XML-envelope refusals.
        self.max_body_bytes = max_body_bytes
        self._body_readers = body_readers(self.authenticators)
        self.response_signer = response_signer
        self.qiwi_http_200 = qiwi_http_200
        # Only a catalog with XML-envelope methods needs the route matched for its error
        # format; otherwise every request would match the catalog twice (here and in
        # authorize) for an answer known in advance.
        self._any_xml_api = any(m.errors == QIWI_XML for m in catalog.methods.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan: nothing to authorize
            return
        if self.response_signer is not None and kind == "http":
            send = signing_send(send, self.response_signer)
        fmt = "propusk"
        try:
            request = request_view(scope)
            if self._any_xml_api:
                fmt = error_format(self.catalog, request)
            request, receive = await self._with_body(scope, request, receive, fmt)
            principal = await authenticate(self.authenticators, request)
        except ClientGone:
            return
        except PropuskError as exc:
            log.info(
                "guard: %s %s refused: %s (%s)",
                request_method(scope),
                scope["path"],
                exc.code,
                exc.detail or "-",
            )
            await self._deny(scope, send, exc, fmt)
            return
        decision = authorize(principal, request.method, request.path, self.catalog)
        if not decision.allowed:
            log.info("guard: %s %s denied: %s", request.method, scope["path"], decision.reason)
            error = denial_error(self.authenticators, request, principal, decision)
            await self._deny(scope, send, error, fmt)
            return
        scope[PRINCIPAL_KEY] = principal
        scope[DECISION_KEY] = decision
        await self.app(scope, receive, send)

    async def _with_body(
        self, scope: Scope, request: RequestView, receive: Receive, fmt: str
    ) -> tuple[RequestView, Receive]:
        """The view with the route's error format, and the body when an authenticator
        wants it (read up to the cap; ``receive`` then replays the same bytes)."""
        request = replace(request, extra={**request.extra, ERROR_FORMAT: fmt})
        if scope["type"] != "http" or not wants_body(self._body_readers, request):
            return request, receive
        length = request.headers.get("content-length")
        body = await read_body(receive, length, self.max_body_bytes)
        return replace(request, body=body), replaying(body, receive)

    async def _deny(
        self, scope: Scope, send: Send, error: PropuskError, fmt: str = "propusk"
    ) -> None:
        if scope["type"] == "http" and fmt == QIWI_XML:
            status, xml = qiwi_error(error, http_200=self.qiwi_http_200)
            headers = [
                (b"content-type", b"application/xml; charset=utf-8"),
                (b"content-length", str(len(xml)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": xml})
            return
        if scope["type"] == "websocket":
            # Closing before accepting makes the server refuse the handshake (HTTP 403).
            # 1008 is "policy violation" (RFC 6455).
            await send({"type": "websocket.close", "code": 1008, "reason": error.message})
            return
        status = error.status
        body, headers = error_body(status, error.code, error.message, envelope_of(error))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
