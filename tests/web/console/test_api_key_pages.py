"""API keys in the console: the secret shown once, reroll, revoke."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.support import Mailbox
from tests.web.console.conftest import Owned
from tests.web.console.helpers import Console, console_client, flash_of

_SECRET = re.compile(r'<textarea id="secret-value"[^>]*>([^<]+)</textarea>')


async def _create(owned: Owned, name: str = "Backend") -> httpx.Response:
    base = f"/console/orgs/{owned.org}/api-keys"
    return await owned.console.post(
        base, {"name": name, "app": [owned.apps["Shop"]], "method": ["reviews.read"]}, page=base
    )


async def test_create_reroll_revoke(owned: Owned, client: httpx.AsyncClient) -> None:
    r = await _create(owned)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    match = _SECRET.search(r.text)
    assert match
    secret = match.group(1)
    shop = owned.apps["Shop"]
    call = await client.get(f"/demo/apps/{shop}/reviews", headers={"X-API-Key": secret})
    assert call.status_code == 200, call.text
    base = f"/console/orgs/{owned.org}/api-keys"
    table = (await owned.console.get(base)).text
    assert "Backend" in table and secret not in table
    key_id = re.search(r"/api-keys/([^/\"]+)/reroll", table)
    assert key_id
    reroll = f"{base}/{key_id.group(1)}/reroll"
    r = await owned.console.post(reroll, page=reroll)
    new = _SECRET.search(r.text)
    assert new and new.group(1) != secret
    old_call = await client.get(f"/demo/apps/{shop}/reviews", headers={"X-API-Key": secret})
    assert old_call.status_code == 401
    await owned.console.post(f"{base}/{key_id.group(1)}/revoke", page=base)
    table = (await owned.console.get(base)).text
    assert flash_of(table) == "The API key is revoked." and "status-revoked" in table
    call = await client.get(f"/demo/apps/{shop}/reviews", headers={"X-API-Key": new.group(1)})
    assert call.status_code == 401


async def test_a_developer_cannot_create_api_keys(
    app: FastAPI, owned: Owned, mailbox: Mailbox
) -> None:
    async with console_client(app) as http:
        dev = Console(http)
        await dev.sign_up(mailbox, "apidev@console.example")
        members = f"/console/orgs/{owned.org}/members"
        await owned.console.post(members, {"email": "apidev@console.example",
                                           "role": "developer"}, page=members)  # fmt: skip
        base = f"/console/orgs/{owned.org}/api-keys"
        page = (await dev.get(base)).text
        assert "Create an API key" not in page
        r = await dev.post(base, {"name": "x", "all_apps": "on", "method": ["reviews.read"]},
                           page=base)  # fmt: skip
        assert r.status_code == 303 and "secret-value" not in r.text
    assert "No API keys yet." in (await owned.console.get(base)).text
