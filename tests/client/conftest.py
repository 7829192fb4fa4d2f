"""Fixtures for the SDK tests: a client that records every request it sends, a clock for
the client side, a stub resource API, and a real HTTP server for the sync client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from propusk.config import load_settings
from tests.client.live import LiveServer, live_server
from tests.support import Mailbox, ManualClock

SERVER = "http://testserver"
API = "http://api.test"  # a resource API that rejects every token (see reject_all)
HTML = "http://html.test"  # not Propusk at all (see proxy_page)


class ClientClock:
    """The client's idea of the time, for the flows' ``clock=`` parameter."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def reject_all(scope: Scope, receive: Receive, send: Send) -> None:
    """A resource API for which no token is ever good enough."""
    assert scope["type"] == "http"
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer error="invalid_token"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b'{"error":"invalid_token"}'})


async def proxy_page(scope: Scope, receive: Receive, send: Send) -> None:
    """Not Propusk at all: an HTML page, ``200`` under ``/ok/`` and a gateway error
    elsewhere (what a misconfigured server URL or a proxy in the way answers)."""
    assert scope["type"] == "http"
    status = 200 if scope["path"].startswith("/ok/") else 502
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/html")],
        }
    )
    await send({"type": "http.response.body", "body": b"<html>not here</html>"})


class Recording(httpx.AsyncBaseTransport):
    """Routes ``testserver`` to Propusk, ``api.test`` to :func:`reject_all` and
    ``html.test`` to :func:`proxy_page`, and keeps
    every request that goes over the wire (the flows' own ones included)."""

    def __init__(self, app: FastAPI) -> None:
        client = ("203.0.113.7", 40000)
        self._propusk = httpx.ASGITransport(app=app, client=client)
        self._api = httpx.ASGITransport(app=reject_all, client=client)
        self._html = httpx.ASGITransport(app=proxy_page, client=client)
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # A copy as sent: a flow re-yields the same Request object with a new header.
        self.requests.append(
            httpx.Request(
                request.method,
                request.url,
                headers=request.headers.copy(),
                content=await request.aread(),
                extensions=dict(request.extensions),
            )
        )
        inner = {"api.test": self._api, "html.test": self._html}.get(
            request.url.host, self._propusk
        )
        response = await inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response

    @property
    def calls(self) -> list[str]:
        """``"METHOD host/path status"`` for each request, in order."""
        return [
            f"{r.method} {r.url.host}{r.url.path} {s}"
            for r, s in zip(self.requests, self.statuses, strict=True)
        ]

    def clear(self) -> None:
        self.requests.clear()
        self.statuses.clear()


@pytest.fixture
def wire(app: FastAPI) -> Recording:
    return Recording(app)


@pytest.fixture
async def api(wire: Recording) -> AsyncIterator[httpx.AsyncClient]:
    """An AsyncClient whose every request is recorded in ``wire``."""
    async with httpx.AsyncClient(
        transport=wire, base_url=SERVER, headers={"User-Agent": "propusk-tests/1"}, timeout=7.5
    ) as http:
        yield http


@pytest.fixture
def client_clock() -> ClientClock:
    return ClientClock()


@pytest.fixture
def live(tmp_path: Path, mailbox: Mailbox) -> Iterator[LiveServer]:
    """A real server on 127.0.0.1 with its own database and a ManualClock."""
    settings = load_settings(
        environ={},
        mode="development",
        data_dir=tmp_path,
        issuer="http://live.test",
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    with live_server(settings, ManualClock()) as server:
        yield server
