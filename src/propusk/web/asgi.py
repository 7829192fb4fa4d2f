"""The ASGI application factory, for running Propusk under any ASGI server:

    uvicorn --factory propusk.web.asgi:create_app --workers 2
    gunicorn -k uvicorn.workers.UvicornWorker -w 2 'propusk.web.asgi:create_app()'
    granian --interface asgi --factory --workers 2 propusk.web.asgi:create_app

Settings come from the environment (``PROPUSK_*``) and the configuration file named by
``PROPUSK_CONFIG``, as for ``propusk serve``. The number of processes the server will run
is read from ``PROPUSK_WORKERS`` or, as uvicorn and gunicorn set it, ``WEB_CONCURRENCY``;
more than one is refused unless the state is shared (PostgreSQL and Redis), because each
process would otherwise keep replay caches and throttles of its own (docs/deployment.md).
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from propusk.config import ConfigError, Settings, load_settings
from propusk.web.app import create_app as build_app
from propusk.wiring import require_shared_state

__all__ = ["configure_logging", "create_app"]


def configure_logging(settings: Settings) -> None:
    """Propusk's own loggers (refusal reasons, mail failures) on standard error at
    ``log_level``, unless the program has configured logging already. Every worker
    process calls it: a spawned worker inherits none of its parent's logging set-up."""
    logging.basicConfig(
        level=logging.DEBUG if settings.log_level == "trace" else settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _declared_processes() -> int:
    for name in ("PROPUSK_WORKERS", "WEB_CONCURRENCY"):
        value = os.environ.get(name, "").strip()
        if value:
            if not (value.isascii() and value.isdigit()):
                raise ConfigError(f"{name} must be a whole number, not {value!r}")
            return int(value)
    return 1


def create_app() -> FastAPI:
    """A new Propusk app from the environment; every worker process calls it once."""
    settings = load_settings()
    require_shared_state(settings, _declared_processes())
    configure_logging(settings)
    return build_app(settings)
