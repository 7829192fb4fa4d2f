"""A real HTTP server for the client tests: uvicorn in a thread over a fresh SQLite file.

The ASGI transport only works with ``httpx.AsyncClient``; the flows must work with the sync
``httpx.Client`` too, and that needs a socket. The server has its own database (the shared
test database is bound to a connection on the test event loop, which another thread's loop
may not use) and a ``ManualClock`` the test moves.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from propusk.config import Settings
from propusk.services.accounts import CONFIRM_PREFIX
from propusk.storage import migrate
from propusk.web.app import create_app
from propusk.wiring import build_services
from tests.helpers import PASSWORD
from tests.support import Mailbox, ManualClock

MASTER_KEY = bytes(range(32))


@dataclass(frozen=True)
class LiveServer:
    url: str
    clock: ManualClock
    settings: Settings

    def signed_up(self, mailbox: Mailbox, email: str, password: str = PASSWORD) -> None:
        """Register and confirm an account over HTTP (the sync way)."""
        with httpx.Client(base_url=self.url, timeout=10) as http:
            body = {"login": email, "password": password, "locale": "en", "source": "license"}
            response = http.post("/v1/user", json=body)
            assert response.status_code == 201, response.text
            code = mailbox.last(email).code(CONFIRM_PREFIX)
            response = http.get(f"/v1/user/confirm/{code}")
            assert response.status_code == 200, response.text


@contextmanager
def live_server(settings: Settings, clock: ManualClock) -> Iterator[LiveServer]:
    """Serve ``settings`` on 127.0.0.1 (a free port) until the block ends."""
    migrate.upgrade(settings.effective_database_url)
    services = build_services(settings, clock=clock, master_key=MASTER_KEY)
    app = create_app(settings, services)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    async def main() -> None:
        try:
            # The lifespan refuses to start without a signing key, as in production.
            await services.keyring.ensure_signing_key()
            await server.serve(sockets=[sock])
        finally:
            await services.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="live-server")
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the live server stopped during startup")
            if time.monotonic() > deadline:
                raise RuntimeError("the live server did not start within 15 s")
            time.sleep(0.01)
        yield LiveServer(f"http://127.0.0.1:{port}", clock, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "the live server did not stop"
