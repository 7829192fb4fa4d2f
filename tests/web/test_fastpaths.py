"""The plain-ASGI dispatcher in front of FastAPI: exact paths, then the longest prefix,
then the application."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from propusk.web.fastpaths import FastPaths


def _answer(text: str) -> ASGIApp:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": text.encode()})

    return handler


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/exact", "exact"),
        ("/exact/", "app"),  # exact means exact
        ("/p/", "short"),
        ("/p/long/x", "long"),  # the longest prefix wins, whatever the order given
        ("/p", "app"),
        ("/other", "app"),
    ],
)
async def test_dispatch(path: str, expected: str) -> None:
    fast = FastPaths(
        _answer("app"),
        exact={"/exact": _answer("exact")},
        prefixes=[("/p/", _answer("short")), ("/p/long/", _answer("long"))],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast)) as client:
        response = await client.get(f"http://t{path}")
    assert response.text == expected
