"""Fixtures for console tests: a signed-in owner with a company and two apps."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from tests.support import Mailbox
from tests.web.console.helpers import Console, console_client


@dataclass
class Owned:
    console: Console
    org: str
    apps: dict[str, str]  # name -> id


async def app_ids(console: Console, org: str) -> dict[str, str]:
    page = (await console.get(f"/console/orgs/{org}/apps")).text
    rows = re.findall(
        r"<td data-label=\"Name\">(.*?)</td>\s*<td data-label=\"App ID\"><code>(.*?)</code>", page
    )
    return dict(rows)


@pytest.fixture
async def console(app: FastAPI) -> AsyncIterator[Console]:
    async with console_client(app) as http:
        yield Console(http)


@pytest.fixture
async def owned(console: Console, mailbox: Mailbox) -> Owned:
    await console.sign_up(mailbox, "owner@console.example")
    org = await console.create_org("Studio")
    for name in ("Shop", "Radio"):
        await console.create_app(org, name)
    return Owned(console, org, await app_ids(console, org))
