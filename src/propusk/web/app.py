"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from propusk import __version__
from propusk.config import ConfigError, Settings
from propusk.core.errors import ServiceUnavailable
from propusk.demo.app import create_demo_app
from propusk.guard.middleware import PropuskGuard
from propusk.web.api import (
    admin,
    api_keys,
    auth,
    certificates,
    forward_auth,
    introspect,
    methods,
    orgs,
    public_auth,
    service_keys,
    signing_keys,
    status,
    users,
    utils_hash,
)
from propusk.web.console import install as install_console
from propusk.web.errors import install_error_handlers
from propusk.web.fastpaths import FastPaths
from propusk.web.limits import BodyLimitMiddleware
from propusk.web.redaction import install_log_redaction
from propusk.wiring import Services, build_services

__all__ = ["create_app"]

log = logging.getLogger("propusk.web")


def _networks(name: str, values: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(p, strict=False) for p in values]
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Build the server. Without ``services`` it wires them from ``settings`` (and owns
    them: they are closed at shutdown); tests pass their own."""
    owned = services is None
    resolved = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await resolved.keyring.signing_key()  # fail at start, not at the first login
        except ServiceUnavailable:
            # The database is down (logged once by storage): serve anyway, so that health
            # checks answer and requests get 503 + Retry-After until it is back; a missing
            # signing key (ConfigError) still stops the start.
            log.warning("starting without the database; requests that need it answer 503")
        if owned:
            await resolved.start()  # the relay of credential changes between processes
        # The CRL is rebuilt in the background after revocations and before nextUpdate.
        crl = asyncio.create_task(resolved.ca.keep_crl_fresh()) if owned else None
        yield
        if crl is not None:
            crl.cancel()
        if owned:
            await resolved.close()

    app = FastAPI(
        title="Propusk",
        version=__version__,
        description="Authorization server: accounts, tokens and credentials for API providers.",
        lifespan=lifespan,
    )
    install_log_redaction()
    app.state.services = resolved
    app.state.gate = resolved.gate  # forward-auth's pipeline
    app.state.trusted_proxies = _networks("trusted_proxies", settings.trusted_proxies)
    app.state.forward_auth_clients = _networks(
        "forward_auth_clients", settings.forward_auth_clients
    )
    install_error_handlers(app)
    routers = (
        status,
        users,
        auth,
        admin,
        orgs,
        service_keys,
        api_keys,
        signing_keys,
        certificates,
        public_auth,
        introspect,
        methods,
        utils_hash,
    )
    # Routes are tried in order: forward-auth, the hottest route, comes first.
    app.include_router(forward_auth.router)
    if settings.demo_api:
        # Second: a guarded API is the other hot path, and every route before a mount is
        # tried first (with the console that would be some 150 patterns per request).
        demo = PropuskGuard(
            create_demo_app(),
            gate=resolved.gate,
            # Signed requests: the body cap, and response signatures when enabled.
            max_body_bytes=settings.max_signed_body_bytes,
            response_signer=resolved.response_signing if settings.response_signing else None,
        )
        app.mount("/demo", demo)
    for module in routers:
        app.include_router(module.router)
    app.include_router(signing_keys.public_router)  # GET /v1/signing/public-key
    if settings.console:
        install_console(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        dialect_of=public_auth.dialect_for,
    )
    # Outermost: the hot routes as plain ASGI handlers, ahead of FastAPI (web/fastpaths.py).
    # Each entry is a path (or a prefix) and a handler built over ``resolved``.
    fast_exact: dict[str, ASGIApp] = {}
    fast_prefixes: list[tuple[str, ASGIApp]] = []
    app.add_middleware(FastPaths, exact=fast_exact, prefixes=fast_prefixes)
    return app
