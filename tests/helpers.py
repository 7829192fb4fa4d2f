"""Small API helpers for tests: register, confirm and log in through the real endpoints."""

from __future__ import annotations

import re
from typing import Any

import httpx

from propusk.services.accounts import CONFIRM_PREFIX
from tests.support import Mailbox

PASSWORD = "correct horse battery"


async def register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: Any
) -> dict[str, Any]:
    body = {"login": email, "password": password, "locale": "en", "source": "license", **extra}
    response = await client.post("/v1/user", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def confirm(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> None:
    code = mailbox.last(email).code(CONFIRM_PREFIX)
    response = await client.get(f"/v1/user/confirm/{code}")
    assert response.status_code == 200, response.text


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/v1/auth/login", json={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def signed_up(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    """Register, confirm and log in; return the token answer."""
    await register(client, email, password)
    await confirm(client, mailbox, email)
    return await login(client, email, password)


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def qiwi_code(content: bytes | str) -> int:
    """The result code of a partner XML API refusal, checked to be a fatal one that says
    why in its ``message`` attribute (``<result-code fatal="true" message="…">150</…>``)."""
    text = content.decode() if isinstance(content, bytes) else content
    match = re.search(r'<response><result-code fatal="true" message="([^"]+)">(\d+)</', text)
    assert match is not None, text
    return int(match.group(2))
