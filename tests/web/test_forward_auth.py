"""Forward-auth for nginx, Traefik and Envoy, and the demo API behind the guard."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from propusk.services.audit import Origin
from propusk.wiring import Services
from tests.helpers import PASSWORD, bearer, login, signed_up
from tests.support import Mailbox


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"forward_auth_clients": ["203.0.113.0/24"]}


def nginx(method: str, uri: str, tokens: dict[str, Any] | None = None) -> dict[str, str]:
    headers = {"X-Original-Method": method, "X-Original-URI": uri}
    return {**headers, **(bearer(tokens) if tokens else {})}


async def test_nginx_style_allowed_with_identity_headers(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    tokens = await signed_up(client, mailbox, "fa@example.com")
    r = await client.get("/v1/authorize", headers=nginx("GET", "/demo/apps/app-1/reviews", tokens))
    assert r.status_code == 200
    assert r.headers["x-propusk-method"] == "reviews.read"
    assert r.headers["x-propusk-app"] == "app-1"
    assert r.headers["x-propusk-auth"] == "bearer"
    assert r.headers["x-propusk-org"] == ""
    profile = (await client.get("/v1/user/profile", headers=bearer(tokens))).json()
    assert r.headers["x-propusk-subject"] == profile["id"]


async def test_traefik_style_and_denials(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    tokens = await signed_up(client, mailbox, "tr@example.com")
    ok = await client.get(
        "/v1/authorize",
        headers={
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Uri": "/demo/apps/x?page=2",
            **bearer(tokens),
        },
    )
    assert ok.status_code == 200
    denied = await client.get(
        "/v1/authorize",
        headers={"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/demo/reports", **bearer(tokens)},
    )
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    anonymous = await client.get("/v1/authorize", headers=nginx("GET", "/demo/reports"))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


async def test_envoy_path_prefix_style(client: httpx.AsyncClient, services: Services) -> None:
    await services.accounts.create_admin("envoy@example.com", PASSWORD, Origin())
    tokens = await login(client, "envoy@example.com")
    r = await client.post("/v1/authorize/demo/payments/topup", headers=bearer(tokens))
    assert r.status_code == 200 and r.headers["x-propusk-method"] == "payments.topup"
    wrong_verb = await client.get("/v1/authorize/demo/payments/topup", headers=bearer(tokens))
    assert wrong_verb.status_code == 403
    odd_verb = await client.request(
        "PROPFIND", "/v1/authorize/demo/reports", headers=bearer(tokens)
    )
    assert odd_verb.status_code == 403


async def test_public_route_passes_without_credentials(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/authorize", headers=nginx("GET", "/demo/health"))
    assert r.status_code == 200
    assert r.json() == {"allowed": True, "public": True}
    # Every identity header is present, empty: a proxy copying them overwrites the client's.
    for name in ("subject", "auth", "org", "app", "method"):
        assert r.headers[f"x-propusk-{name}"] == ""


@pytest.mark.parametrize(
    ("uri", "status"),
    [
        ("/demo/health/../reports", 403),
        ("/demo/apps/a%2Fb/reviews", 403),
        ("/demo/apps/%2e%2e/reports", 403),
        ("/demo/apps/x/..%2freports", 403),
        ("/demo//reports", 403),
        ("/demo/apps/x%00/reviews", 403),
        ("/demo/apps/%252e%252e/reviews", 403),
        ("demo/reports", 403),
        ("/demo/reports/", 401),
        ("/DEMO/reports", 401),
        ("/demo/apps/x/reviews?/demo/health", 401),
        ("/demo/health?x=/demo/reports", 200),
    ],
)
async def test_hostile_uris_do_not_bypass_matching(
    client: httpx.AsyncClient, uri: str, status: int
) -> None:
    r = await client.get("/v1/authorize", headers=nginx("GET", uri))
    assert r.status_code == status, r.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Original-Method": "GET"},
        {"X-Original-URI": "/demo/health"},
        {"X-Original-Method": "BREW", "X-Original-URI": "/demo/health"},
        {"X-Original-Method": "get", "X-Original-URI": "/demo/health"},
        # Traefik sets X-Forwarded-*; a client-added X-Original-URI must not replace it.
        {
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Uri": "/demo/reports",
            "X-Original-URI": "/demo/health",
        },
        {
            "X-Original-Method": "GET",
            "X-Original-URI": "/demo/health",
            "X-Forwarded-Uri": "/demo/reports",
        },
    ],
)
async def test_incomplete_questions(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    # A proxy understands only 2xx, 401 and 403: a malformed question is refused with 403.
    r = await client.get("/v1/authorize", headers=headers)
    assert r.status_code == 403 and set(r.json()) == {"error", "message"}


async def test_oversized_headers(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/v1/authorize", headers={**nginx("GET", "/demo/health"), "X-Junk": "j" * 20000}
    )
    assert r.status_code == 403


class TestOnlyProxiesMayAsk:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}  # the default: loopback only; the test client is 203.0.113.7

    async def test_untrusted_caller_refused(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/v1/authorize", headers=nginx("GET", "/demo/health"))
        assert r.status_code == 403


async def test_demo_api_behind_the_guard(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    assert (await client.get("/demo/health")).json() == {"status": "ok"}
    assert (await client.get("/demo/apps/a1")).status_code == 401
    tokens = await signed_up(client, mailbox, "demo@example.com")
    r = await client.get("/demo/apps/a1/reviews", headers=bearer(tokens))
    assert r.status_code == 200
    assert r.json()["method"] == "reviews.read" and r.json()["authenticatedBy"] == "bearer"
    assert (await client.get("/demo/reports", headers=bearer(tokens))).status_code == 403


async def test_methods_endpoint(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    assert (await client.get("/v1/methods")).status_code == 401
    tokens = await signed_up(client, mailbox, "methods@example.com")
    items = (await client.get("/v1/methods", headers=bearer(tokens))).json()["items"]
    by_name = {m["name"]: m for m in items}
    assert by_name["reviews.read"] == {
        "name": "reviews.read",
        "kind": "app",
        "description": "Read the reviews of an app",
        "routes": ["GET /demo/apps/{app_id}/reviews"],
    }
    assert by_name["reports.read"]["kind"] == "general"
