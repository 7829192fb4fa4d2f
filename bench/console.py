"""The web console in process: what a page costs next to the JSON API serving the same data.

``python -m bench console`` (also part of ``all``): a real
:class:`~propusk.wiring.Services` over a temporary SQLite database (migrated,
fresh master key), the whole ASGI app driven through ``httpx.ASGITransport`` (no sockets,
so the figures are the app's own work). One owner signed in through the console's own
forms, one organization, two apps and 20 service keys. Rows, interleaved in rounds:

- ``GET /livez``: the floor of a request through the app;
- ``GET /v1/orgs/{org}/service-keys`` with a Bearer token: the JSON list of the 20 keys;
- ``GET /console/orgs/{org}/service-keys``: the same list as the console page (open the
  sealed session cookie, verify the access token in it, render the template);
- ``POST /console/locale``: a form post (open the cookie, check the CSRF token, seal a new
  cookie, answer with a redirect).

Each row is the mean of its best round; ratios are against ``/livez`` and the JSON list.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.budget import Budget
from bench.report import Section
from propusk.config import Settings, load_settings
from propusk.services.audit import Origin
from propusk.services.scopes import KeyScope
from propusk.storage import migrate
from propusk.web.app import create_app
from propusk.wiring import Services, build_services

__all__ = ["run"]

KEYS = 20
PASSWORD = "bench console password"
EMAIL = "bench-console@example.com"
ROUNDS = 4


async def _setup(services: Services, http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """An owner signed in through the console; returns the org id and a Bearer header."""
    await services.keyring.ensure_signing_key()
    await services.accounts.create_admin(EMAIL, PASSWORD, Origin())
    page = (await http.get("/console/login")).text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    signed = await http.post(
        "/console/login", data={"csrf": match.group(1), "email": EMAIL, "password": PASSWORD}
    )
    assert signed.status_code == 303, signed.text
    owner = await services.accounts.find_id_by_email(EMAIL)
    org = await services.orgs.create(owner, "Bench", "company", Origin())
    for name in ("Shop", "Radio"):
        await services.orgs.create_app(owner, org.id, name, Origin())
    # One public key for every row: RSA generation is not what is measured here.
    public = (
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for i in range(KEYS):
        scope = KeyScope(None, True, ["reviews.read", "reports.read"])
        await services.service_keys.create(
            owner, org.id, f"key {i}", scope, Origin(), public_key_pem=public
        )
    tokens = await http.post("/v1/auth/login", json={"username": EMAIL, "password": PASSWORD})
    return org.id, {"Authorization": f"Bearer {tokens.json()['access_token']}"}


async def _round(call: Callable[[], Awaitable[httpx.Response]], seconds: float) -> float:
    """Seconds per request over about ``seconds`` of sequential calls."""
    count, started = 0, time.perf_counter()
    while True:
        response = await call()
        if response.status_code not in (200, 303):
            raise AssertionError(f"{response.request.url}: {response.status_code}")
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / count


async def _measure(settings: Settings, seconds: float) -> dict[str, float]:
    services = build_services(settings, master_key=secrets.token_bytes(32))
    try:
        app = create_app(settings, services)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            org, bearer = await _setup(services, http)
            page = (await http.get("/console/orgs")).text
            match = re.search(r'name="csrf" value="([^"]+)"', page)
            assert match
            csrf = match.group(1)
            calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                "livez": lambda: http.get("/livez"),
                "json": lambda: http.get(f"/v1/orgs/{org}/service-keys", headers=bearer),
                "page": lambda: http.get(f"/console/orgs/{org}/service-keys"),
                "post": lambda: http.post(
                    "/console/locale",
                    data={"csrf": csrf, "locale": "en", "next": "/console/orgs"},
                ),
            }
            best = {name: float("inf") for name in calls}
            for _ in range(ROUNDS):  # interleaved: drift hits every row alike
                for name, call in calls.items():
                    best[name] = min(best[name], await _round(call, seconds / ROUNDS))
            return best
    finally:
        await services.close()


def _in_temporary_database(seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="propusk-bench-console-") as tmp:
        path = Path(tmp)
        url = f"sqlite+aiosqlite:///{path / 'propusk.db'}"
        migrate.upgrade(url)  # alembic runs its own event loop: before ours
        config = path / "propusk.toml"  # empty: no ./propusk.toml of the working directory
        config.write_text("", encoding="utf-8")
        settings = load_settings(
            config,
            environ={},
            data_dir=path,
            database_url=url,
            issuer="http://bench",
            argon2_time_cost=1,
            argon2_memory_kib=1024,
        )
        return asyncio.run(_measure(settings, seconds))


LABELS = {
    "livez": "GET /livez (floor)",
    "json": f"GET /v1/orgs/{{org}}/service-keys, {KEYS} keys (JSON)",
    "page": f"GET /console/orgs/{{org}}/service-keys, {KEYS} keys (page)",
    "post": "POST /console/locale (CSRF check, new sealed cookie)",
}


def run(budget: Budget) -> Section:
    """The console's pages against the JSON API, in process (``python -m bench console``)."""
    seconds = max(1.0, budget.authorize_seconds * 4)
    best = _in_temporary_database(seconds)
    section = Section(
        title="Web console in process (ASGI, no sockets)",
        headers=("request", "ms/request", "requests/s", "x /livez", "x JSON list"),
    )
    for name, per in best.items():
        section.rows.append(
            (
                LABELS[name],
                f"{per * 1000:.2f}",
                f"{1 / per:,.0f}",
                f"{per / best['livez']:.1f}",
                f"{per / best['json']:.2f}",
            )
        )
    section.notes.append(
        f"best of {ROUNDS} interleaved rounds of about {seconds / ROUNDS:g} s each; "
        "sequential requests, one at a time"
    )
    return section
