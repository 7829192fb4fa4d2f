"""Request limits enforced before any route runs: body size and its encoding."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from propusk.core.catalog import Dialect
from propusk.core.errors import PropuskError
from propusk.guard.body import ClientGone, read_body, replaying
from propusk.guard.dialects import render

__all__ = ["BodyLimitMiddleware", "DialectOf", "propusk_dialect"]


DialectOf = Callable[[Scope], Dialect]


def propusk_dialect(scope: Scope) -> Dialect:
    return "propusk"


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413 before the application reads them.

    The body is read here (at most ``max_bytes``) and replayed to the application, so an
    over-long body is refused whole rather than half-processed, whether or not it came
    with a Content-Length.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, dialect_of: DialectOf = propusk_dialect
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Each protocol answers in its own envelope, also when the body is refused here.
        self.dialect_of = dialect_of

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
            answer = render(exc, self.dialect_of(scope), now=time.time())
            start = {"type": "http.response.start", "status": answer.status}
            await send({**start, "headers": list(answer.headers)})
            await send({"type": "http.response.body", "body": answer.body})
            return
        await self.app(scope, replaying(body, receive), send)
