"""A form-posting test client for the console: keeps the cookie, finds the CSRF token."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import httpx

from propusk.services.accounts import CONFIRM_PREFIX
from tests.helpers import PASSWORD
from tests.support import Mailbox

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "no CSRF field on the page"
    return html.unescape(match.group(1))


class Console:
    """One person's browser tab: GET a page, then post one of its forms."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, **kw)

    async def post(
        self, path: str, data: Mapping[str, Any] | None = None, *, page: str = "/console/signup"
    ) -> httpx.Response:
        """Post ``data`` from ``page`` with its CSRF token, as a browser would."""
        token = csrf_of((await self.http.get(page)).text)
        return await self.http.post(
            path,
            data={"csrf": token, **(data or {})},
            headers={"Referer": str(self.http.base_url).rstrip("/") + page},
        )

    async def sign_up(self, mailbox: Mailbox, email: str, password: str = PASSWORD) -> None:
        r = await self.post(
            "/console/signup",
            {"email": email, "password": password, "repeat": password, "locale": "en"},
            page="/console/signup",
        )
        assert r.status_code == 303, r.text
        code = mailbox.last(email).code(CONFIRM_PREFIX)
        r = await self.post("/console/confirm", {"code": code}, page="/console/confirm")
        assert r.status_code == 303 and r.headers["location"] == "/console/login", r.text
        await self.sign_in(email, password)

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        r = await self.post("/console/login", {"email": email, "password": password})
        assert r.status_code == 303, r.text
        return r

    async def create_org(self, name: str = "Studio", kind: str = "company") -> str:
        r = await self.post("/console/orgs", {"name": name, "kind": kind}, page="/console/orgs")
        assert r.status_code == 303, r.text
        match = re.fullmatch(r"/console/orgs/([0-9a-f-]{36})/apps", r.headers["location"])
        assert match, r.headers["location"]
        return match.group(1)

    async def create_app(self, org: str, name: str) -> None:
        r = await self.post(
            f"/console/orgs/{org}/apps", {"name": name}, page=f"/console/orgs/{org}/apps"
        )
        assert r.status_code == 303, r.text


def console_client(app: Any, base_url: str = "http://testserver") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40001))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def flash_of(page: str) -> str:
    match = re.search(r'<div class="flash flash-\w+" role="\w+">(.*?)</div>', page, re.S)
    return html.unescape(match.group(1)) if match else ""
