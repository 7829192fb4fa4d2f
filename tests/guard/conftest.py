"""Fixtures of the remote-mode tests (helpers in tests/guard/remote_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from propusk.client import PasswordAuth
from propusk.services.audit import Origin
from propusk.wiring import Services
from tests.guard.remote_support import INTROSPECTOR, SERVER, Clocks, Switch
from tests.helpers import PASSWORD
from tests.support import ManualClock


@pytest.fixture
async def switch(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, Switch]]:
    transport = Switch(httpx.ASGITransport(app=app, client=("198.51.100.9", 50000)))
    async with httpx.AsyncClient(transport=transport, base_url=SERVER) as http:
        yield http, transport


@pytest.fixture
def clocks(clock: ManualClock) -> Clocks:
    return Clocks(clock)


@pytest.fixture
async def introspector(services: Services) -> PasswordAuth:
    """How the resource API authenticates: an account holding the introspect role."""
    await services.accounts.create_admin(INTROSPECTOR, PASSWORD, Origin())
    account_id = await services.accounts.find_id_by_email(INTROSPECTOR)
    await services.accounts.set_roles(None, account_id, ["introspect"], Origin())
    return PasswordAuth(SERVER, INTROSPECTOR, PASSWORD)
