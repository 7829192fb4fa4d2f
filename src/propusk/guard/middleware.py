"""``PropuskGuard``: ASGI middleware that lets a request reach the protected application
only when the gate passes it.

    from propusk.guard import Gate, PropuskGuard, BearerToken, JWKSVerifier

    gate = Gate(catalog=load_catalog("methods.toml"), verifiers=[BearerToken(JWKSVerifier(
        "https://auth.example.com/.well-known/jwks.json", issuer="https://auth.example.com"))])
    app = PropuskGuard(app, gate=gate)

The route handler finds the caller with ``principal_of(request.scope)``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propusk.core.errors import PropuskError
from propusk.core.principals import Principal
from propusk.guard.body import (
    DEFAULT_MAX_BODY_BYTES,
    ClientGone,
    read_body,
    replaying,
    signing_send,
)
from propusk.guard.gate import Gate, Refusal
from propusk.guard.ports import ResponseSigner
from propusk.guard.request import RequestView, request_method, request_view

__all__ = ["DECISION_KEY", "PRINCIPAL_KEY", "PropuskGuard", "principal_of"]

PRINCIPAL_KEY = "propusk.principal"
DECISION_KEY = "propusk.decision"


def principal_of(scope: Scope) -> Principal | None:
    """The Principal the guard put in the scope: None when the request carried no
    credential (which only a public route lets through)."""
    value = scope.get(PRINCIPAL_KEY)
    return value if isinstance(value, Principal) else None


class PropuskGuard:
    """The gate in front of an ASGI app. ``max_body_bytes`` caps the body read for signed
    requests (checked before anything hashes it); ``response_signer`` signs every
    response body (``X-Digital-Sign``), None: unsigned."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        gate: Gate,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        response_signer: ResponseSigner | None = None,
    ) -> None:
        self.app = app
        self.gate = gate
        self.max_body_bytes = max_body_bytes
        self.response_signer = response_signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan: nothing to authorize
            return
        if self.response_signer is not None and kind == "http":
            send = signing_send(send, self.response_signer)
        try:
            view = request_view(scope)
        except PropuskError as exc:  # the headers themselves are refused (too large)
            bare = RequestView(request_method(scope), scope.get("path", "/"), {})
            await self._deny(scope, send, self.gate.refuse(exc, bare, None, entry="guard"))
            return
        read: list[bytes] = []

        async def body() -> bytes:
            if kind != "http":
                return b""
            length = view.headers.get("content-length")
            read.append(await read_body(receive, length, self.max_body_bytes))
            return read[0]

        try:
            outcome = await self.gate.check(view, body=body)
        except ClientGone:
            return
        if isinstance(outcome, Refusal):
            await self._deny(scope, send, outcome)
            return
        scope[PRINCIPAL_KEY] = outcome.principal
        scope[DECISION_KEY] = outcome.decision
        await self.app(scope, replaying(read[0], receive) if read else receive, send)

    async def _deny(self, scope: Scope, send: Send, refusal: Refusal) -> None:
        if scope["type"] == "websocket":
            # Closing before accepting makes the server refuse the handshake (HTTP 403).
            # 1008 is "policy violation" (RFC 6455).
            message: Message = {"type": "websocket.close", "code": 1008}
            await send({**message, "reason": refusal.error.message})
            return
        answer = self.gate.answer(refusal)
        start = {"type": "http.response.start", "status": answer.status}
        await send({**start, "headers": list(answer.headers)})
        await send({"type": "http.response.body", "body": answer.body})
