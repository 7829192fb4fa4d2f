"""``console = false`` leaves only the JSON APIs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console": False}


async def test_no_console_when_turned_off(client: httpx.AsyncClient) -> None:
    for path in ("/console/", "/console/login", "/console/static/console.css"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"] == "not_found"
    assert (await client.get("/livez")).status_code == 200
