"""Hot routes answered as plain ASGI, ahead of FastAPI's routing and dependency injection.

Forward-auth, introspection, the service-key exchange and refresh run on every call of
the users' APIs; FastAPI's router, request objects and dependency graph cost more than
their cryptography (docs/benchmarks.md). :class:`FastPaths` is installed as the
outermost middleware of the FastAPI app: a request whose path is registered here is
answered by its plain ASGI handler, every other request goes on to FastAPI untouched.
The FastAPI app stays the application object (its lifespan, ``app.state`` and the
OpenAPI document), so tests and ASGI servers see no difference.

A fast handler gets the raw ASGI ``scope``, ``receive`` and ``send``; it reads and caps
its own body (``propusk.guard.body.read_body``) and renders its own refusals in its
dialect, because the body-limit middleware and the error handlers sit behind it.
``scope["app"]`` is not set for it (Starlette sets it later): handlers are closures
over what they need, never look-ups through the app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FastPaths"]


class FastPaths:
    """Dispatch by exact path (one dict look-up), then by prefix, else to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        exact: Mapping[str, ASGIApp] | None = None,
        prefixes: Sequence[tuple[str, ASGIApp]] = (),
    ) -> None:
        self.app = app
        self.exact = dict(exact or {})
        # Longest prefix first, so that "/v1/authorize/" wins over "/v1/".
        self.prefixes = sorted(prefixes, key=lambda item: len(item[0]), reverse=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            handler = self.exact.get(path)
            if handler is None:
                for prefix, candidate in self.prefixes:
                    if path.startswith(prefix):
                        handler = candidate
                        break
            if handler is not None:
                await handler(scope, receive, send)
                return
        await self.app(scope, receive, send)
