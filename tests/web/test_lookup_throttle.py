"""``GET /v1/user/address/exists`` is limited like logins: every answer tells whether an
account exists, so look-ups are counted per e-mail address and per client address, and
beyond either cap refused with 429 + Retry-After (docs/account-api.md)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.helpers import register

EXISTS = "/v1/user/address/exists"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"lookup_max_per_address": 3, "lookup_max_per_ip": 5, "lookup_window": 600}


def _client_at(app: FastAPI, ip: str) -> httpx.AsyncClient:
    """A client from another address than the ``client`` fixture's."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_lookups_of_one_address_are_capped(client: httpx.AsyncClient, app: FastAPI) -> None:
    await register(client, "known@example.com")
    for _ in range(3):
        r = await client.get(EXISTS, params={"email": "Known@example.com"})
        assert r.status_code == 200 and r.json() == {"exist": True}
    async with _client_at(app, "198.51.100.20") as elsewhere:
        # The same address from another client: the address's own cap, whatever the case.
        r = await elsewhere.get(EXISTS, params={"email": "KNOWN@example.com"})
    assert r.status_code == 429
    assert r.json()["error"] == "too_many_attempts"
    assert 1 <= int(r.headers["retry-after"]) <= 600


async def test_lookups_from_one_client_are_capped(client: httpx.AsyncClient, app: FastAPI) -> None:
    for i in range(5):
        r = await client.get(EXISTS, params={"email": f"nobody{i}@example.com"})
        assert r.status_code == 200 and r.json() == {"exist": False}
    r = await client.get(EXISTS, params={"email": "nobody-else@example.com"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    async with _client_at(app, "198.51.100.21") as elsewhere:
        r = await elsewhere.get(EXISTS, params={"email": "nobody-else@example.com"})
    assert r.status_code == 200  # another client is not affected


async def test_a_malformed_address_is_refused_before_it_is_counted(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(8):
        r = await client.get(EXISTS, params={"email": "not an address"})
        assert r.status_code == 400
    r = await client.get(EXISTS, params={"email": "fresh@example.com"})
    assert r.status_code == 200
