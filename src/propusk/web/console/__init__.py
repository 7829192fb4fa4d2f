"""The web console under ``/console``: server-rendered pages over the same services as the
JSON API (see docs/console.md)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from propusk.web.console import (
    api_key_pages,
    auth_pages,
    ca_pages,
    certificate_pages,
    key_pages,
    org_pages,
    signing_key_pages,
)
from propusk.web.console.render import HERE

__all__ = ["install"]

ROUTERS = (
    auth_pages.router,
    org_pages.router,
    key_pages.router,
    api_key_pages.router,
    signing_key_pages.router,
    certificate_pages.router,
    ca_pages.router,
)


def install(app: FastAPI) -> None:
    """Add the console's pages and its static files (CSS, script) to ``app``."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(auth_pages.fallback)  # last: only what nothing above matched
