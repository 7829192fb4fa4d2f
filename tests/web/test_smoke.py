from __future__ import annotations

import httpx

from tests.helpers import bearer, signed_up
from tests.support import Mailbox


async def test_status(client: httpx.AsyncClient) -> None:
    response = await client.get("/status")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_register_confirm_login_profile(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    tokens = await signed_up(client, mailbox, "smoke@example.com")
    profile = await client.get("/v1/user/profile", headers=bearer(tokens))
    assert profile.status_code == 200
    assert profile.json()["login"] == "smoke@example.com"
    assert profile.json()["roles"] == ["user"]
