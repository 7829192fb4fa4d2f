"""Certificate-bound tokens (RFC 8705) through the real app: login, refresh and the
service-key exchange bind to the client certificate a trusted proxy forwards; the guard,
forward-auth and the server's own routes refuse a bound token without that certificate;
unbound tokens keep working."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from propusk.core.cnf import x5t_s256
from propusk.services.audit import Origin
from propusk.wiring import Services
from tests.helpers import PASSWORD, bearer, login, signed_up
from tests.mtls_support import Issued, issue, make_ca, nginx_escaped
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import exchange, load_private, owner_with_org, sign, timestamp

HEADER = "X-SSL-Client-Cert"
PROXY = "203.0.113.7"  # the address of the `client` fixture: the trusted proxy
STRANGER = "198.51.100.9"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "trusted_proxies": [f"{PROXY}/32"],
        "client_cert_header": HEADER,
        "certificate_bound_tokens": True,
        "forward_auth_clients": [f"{PROXY}/32", f"{STRANGER}/32"],
    }


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Bound tokens CA")


@pytest.fixture(scope="module")
def alice(ca: Issued) -> Issued:
    return issue(ca, "alice")


@pytest.fixture(scope="module")
def bob(ca: Issued) -> Issued:
    return issue(ca, "bob")


@pytest.fixture
async def stranger(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client connecting directly, not through the trusted proxy."""
    transport = httpx.ASGITransport(app=app, client=(STRANGER, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def cert(who: Issued) -> dict[str, str]:
    return {HEADER: nginx_escaped(who.pem)}


def claims(access_token: str) -> dict[str, Any]:
    payload = access_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def bound_login(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str, who: Issued
) -> dict[str, Any]:
    await signed_up(client, mailbox, email)
    r = await client.post(
        "/v1/auth/login", json={"username": email, "password": PASSWORD}, headers=cert(who)
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_login_over_mtls_binds_the_access_token(
    client: httpx.AsyncClient, mailbox: Mailbox, alice: Issued
) -> None:
    tokens = await bound_login(client, mailbox, "bound@example.com", alice)
    assert claims(tokens["access_token"])["cnf"] == {"x5t#S256": x5t_s256(alice.der)}


async def test_bound_token_works_only_with_its_certificate(
    client: httpx.AsyncClient, mailbox: Mailbox, alice: Issued, bob: Issued
) -> None:
    tokens = await bound_login(client, mailbox, "guarded@example.com", alice)
    ok = await client.get("/demo/apps/a1", headers={**bearer(tokens), **cert(alice)})
    assert ok.status_code == 200, ok.text
    for headers in (bearer(tokens), {**bearer(tokens), **cert(bob)}):
        r = await client.get("/demo/apps/a1", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_the_servers_own_routes_check_the_binding(
    client: httpx.AsyncClient, mailbox: Mailbox, alice: Issued
) -> None:
    tokens = await bound_login(client, mailbox, "own@example.com", alice)
    assert (await client.get("/v1/user/profile", headers=bearer(tokens))).status_code == 401
    with_cert = await client.get("/v1/user/profile", headers={**bearer(tokens), **cert(alice)})
    assert with_cert.status_code == 200, with_cert.text


async def test_a_spoofed_header_binds_nothing_and_unlocks_nothing(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, mailbox: Mailbox, alice: Issued
) -> None:
    await signed_up(client, mailbox, "direct@example.com")
    body = {"username": "direct@example.com", "password": PASSWORD}
    r = await stranger.post("/v1/auth/login", json=body, headers=cert(alice))
    assert r.status_code == 200
    assert "cnf" not in claims(r.json()["access_token"])  # the header was ignored
    bound = await bound_login(client, mailbox, "victim@example.com", alice)
    # A stolen bound token plus the (public) certificate in a header, sent directly: refused.
    stolen = await stranger.get("/demo/apps/a1", headers={**bearer(bound), **cert(alice)})
    assert stolen.status_code == 401


async def test_unbound_tokens_still_work(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    tokens = await signed_up(client, mailbox, "plain@example.com")
    assert "cnf" not in claims(tokens["access_token"])
    assert (await client.get("/demo/apps/a1", headers=bearer(tokens))).status_code == 200


async def test_refresh_over_mtls_binds_the_new_token(
    client: httpx.AsyncClient, mailbox: Mailbox, alice: Issued
) -> None:
    tokens = await bound_login(client, mailbox, "refresh@example.com", alice)
    r = await client.post(
        "/v1/auth/refresh", json={"token": tokens["refresh_token"]}, headers=cert(alice)
    )
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["cnf"] == {"x5t#S256": x5t_s256(alice.der)}


async def test_a_bound_family_refreshes_only_with_its_certificate(
    client: httpx.AsyncClient, mailbox: Mailbox, alice: Issued, bob: Issued
) -> None:
    tokens = await bound_login(client, mailbox, "family@example.com", alice)
    body = {"token": tokens["refresh_token"]}
    # The refresh token alone (stolen, say), or with another certificate: refused, and the
    # token is not spent by the attempt ...
    for headers in ({}, cert(bob)):
        r = await client.post("/v1/auth/refresh", json=body, headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "invalid_token"
    # ... so its owner still refreshes with the right certificate, and the binding is
    # inherited by the rotated token.
    r = await client.post("/v1/auth/refresh", json=body, headers=cert(alice))
    assert r.status_code == 200, r.text
    rotated = {"token": r.json()["refresh_token"]}
    assert (await client.post("/v1/auth/refresh", json=rotated)).status_code == 401
    again = await client.post("/v1/auth/refresh", json=rotated, headers=cert(alice))
    assert again.status_code == 200, again.text


async def test_an_unbound_family_stays_unbound(
    client: httpx.AsyncClient, mailbox: Mailbox, alice: Issued
) -> None:
    tokens = await signed_up(client, mailbox, "loose@example.com")
    # Refreshed once over mutual TLS: that access token is bound, the family is not.
    r = await client.post(
        "/v1/auth/refresh", json={"token": tokens["refresh_token"]}, headers=cert(alice)
    )
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["cnf"] == {"x5t#S256": x5t_s256(alice.der)}
    later = await client.post("/v1/auth/refresh", json={"token": r.json()["refresh_token"]})
    assert later.status_code == 200, later.text
    assert "cnf" not in claims(later.json()["access_token"])


async def test_forward_auth_applies_the_same_rule(
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    mailbox: Mailbox,
    alice: Issued,
) -> None:
    tokens = await bound_login(client, mailbox, "fwd@example.com", alice)
    question = {"X-Original-Method": "GET", "X-Original-URI": "/demo/apps/a1", **bearer(tokens)}
    ok = await client.get("/v1/authorize", headers={**question, **cert(alice)})
    assert ok.status_code == 200, ok.text
    assert (await client.get("/v1/authorize", headers=question)).status_code == 401
    # An allowed forward-auth caller that is not a trusted proxy: its header is not believed.
    spoofed = await stranger.get("/v1/authorize", headers={**question, **cert(alice)})
    assert spoofed.status_code == 401


class TestServiceKeyExchange:
    async def test_exchange_over_mtls_binds_the_service_token(
        self,
        client: httpx.AsyncClient,
        mailbox: Mailbox,
        clock: ManualClock,
        services: Services,
        alice: Issued,
    ) -> None:
        owner, org, apps = await owner_with_org(client, mailbox, "svc@example.com", apps=1)
        r = await client.post(
            f"/v1/orgs/{org}/service-keys",
            json={"name": "k", "methods": ["apps.read"], "allApps": True},
            headers=owner,
        )
        assert r.status_code == 201, r.text
        key_id, key = r.json()["keyId"], load_private(r.json()["privateKey"])

        plain = await exchange(client, key_id, key, clock.now())
        clock.advance(1)
        bound = await self._bound_exchange(client, key_id, key, clock, alice)
        principal = await services.exchange.verify(bound)
        assert principal.cert_thumbprint == x5t_s256(alice.der)
        assert (await services.exchange.verify(plain.json()["body"]["jwe"])).cert_thumbprint is None

        url = f"/demo/apps/{apps[0]}"
        ok = await client.get(url, headers={"Public-Token": bound, **cert(alice)})
        assert ok.status_code == 200, ok.text
        assert (await client.get(url, headers={"Public-Token": bound})).status_code == 401
        unbound = plain.json()["body"]["jwe"]
        assert (await client.get(url, headers={"Public-Token": unbound})).status_code == 200

    @staticmethod
    async def _bound_exchange(
        client: httpx.AsyncClient, key_id: str, key: Any, clock: ManualClock, who: Issued
    ) -> str:
        ts = timestamp(clock.now())
        body = {"keyId": key_id, "timestamp": ts, "signature": sign(key, key_id, ts)}
        r = await client.post("/public/auth/", json=body, headers=cert(who))
        assert r.status_code == 200, r.text
        return str(r.json()["body"]["jwe"])


class TestBindingOff:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"trusted_proxies": [f"{PROXY}/32"], "client_cert_header": HEADER}

    async def test_no_binding_unless_enabled(
        self, client: httpx.AsyncClient, mailbox: Mailbox, alice: Issued
    ) -> None:
        tokens = await bound_login(client, mailbox, "off@example.com", alice)
        assert "cnf" not in claims(tokens["access_token"])
        assert (await client.get("/demo/apps/a1", headers=bearer(tokens))).status_code == 200


async def test_garbage_header_from_the_trusted_proxy_is_refused(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await signed_up(client, mailbox, "garbage@example.com")
    r = await client.post(
        "/v1/auth/login",
        json={"username": "garbage@example.com", "password": PASSWORD},
        headers={HEADER: "not-a-certificate"},
    )
    assert r.status_code == 401
    assert (await login(client, "garbage@example.com"))["access_token"]


async def test_introspection_shows_the_binding(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services, alice: Issued
) -> None:
    bound = (await bound_login(client, mailbox, "introspected@example.com", alice))["access_token"]
    await services.accounts.create_admin("rs@example.com", PASSWORD, Origin())
    resource_server = bearer(await login(client, "rs@example.com"))
    unbound = resource_server["Authorization"].removeprefix("Bearer ")

    async def introspect(token: str) -> dict[str, Any]:
        r = await client.post(
            "/v1/introspect",
            content=f"token={token}",
            headers={**resource_server, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["active"] is True
        return dict(r.json())

    assert (await introspect(bound))["cnf"] == {"x5t#S256": x5t_s256(alice.der)}
    assert "cnf" not in await introspect(unbound)
