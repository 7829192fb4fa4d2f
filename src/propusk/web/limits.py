"""Request limits enforced before any route runs: body size and its encoding."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from propusk.core.errors import PropuskError
from propusk.guard.body import ClientGone, read_body, replaying

__all__ = ["BodyLimitMiddleware", "ErrorBody", "propusk_error_body"]


ErrorBody = Callable[[Scope, int, str, str], bytes]


def propusk_error_body(scope: Scope, status: int, code: str, message: str) -> bytes:
    """Propusk's own envelope, ``{"error": code, "message": text}``."""
    return json.dumps({"error": code, "message": message}, separators=(",", ":")).encode()


async def _send_error(
    send: Send, body_for: ErrorBody, scope: Scope, status: int, code: str, message: str
) -> None:
    body = body_for(scope, status, code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413 before the application reads them.

    The body is read here (at most ``max_bytes``) and replayed to the application, so an
    over-long body is refused whole rather than half-processed, whether or not it came
    with a Content-Length.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, error_body: ErrorBody = propusk_error_body
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Each protocol answers in its own envelope, also when the body is refused here.
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next(
            (v.decode("latin-1") for n, v in scope["headers"] if n == b"content-length"), None
        )
        try:
            # The guard's own reader: Content-Length checked first, then the bytes counted.
            body = await read_body(receive, length, self.max_bytes)
        except ClientGone:
            return
        except PropuskError as exc:  # a bad Content-Length, or too many bytes
            await _send_error(send, self.error_body, scope, exc.status, exc.code, exc.message)
            return
        await self.app(scope, replaying(body, receive), send)
