"""Tokens as a Waves node and other clients see them: login, refresh, logout, keys."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import select

from propusk.services.audit import Origin
from propusk.storage.models import Account, AuditEvent
from propusk.web.app import create_app
from propusk.wiring import Services, build_services
from tests.conftest import MASTER_KEY
from tests.helpers import PASSWORD, bearer, login, register, signed_up
from tests.support import Mailbox, ManualClock


async def test_login_answer_and_waves_node_style_verification(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    tokens = await signed_up(client, mailbox, "waves@example.com")
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["refresh_token"].startswith("propusk_rt_")
    assert tokens["expires_in"] == 900
    # A Waves node is configured with only the Base64 DER SubjectPublicKeyInfo.
    spki = (await client.get("/v1/auth/publicKey")).json()["publicKey"]
    public_key = load_der_public_key(base64.b64decode(spki))
    claims = jwt.decode(tokens["access_token"], key=public_key, algorithms=["RS256"])  # type: ignore[arg-type]
    assert claims["roles"] == ["user"] and claims["addresses"] == []
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iss"] == "http://testserver" and claims["jti"]
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "RS256" and header["kid"]


async def test_jwks_verifies_tokens(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    tokens = await signed_up(client, mailbox, "jwks@example.com")
    jwks = (await client.get("/.well-known/jwks.json")).json()
    keyset = jwt.PyJWKSet.from_dict(jwks)
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    key = next(k for k in keyset.keys if k.key_id == kid)
    claims = jwt.decode(tokens["access_token"], key=key, algorithms=["RS256"])
    assert claims["sub"]


async def test_unknown_user_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await signed_up(client, mailbox, "same@example.com")
    wrong = await client.post(
        "/v1/auth/login", json={"username": "same@example.com", "password": "wrong password"}
    )
    unknown = await client.post(
        "/v1/auth/login", json={"username": "ghost@example.com", "password": "wrong password"}
    )
    not_email = await client.post(
        "/v1/auth/login", json={"username": "not an email", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == not_email.status_code == 401
    assert wrong.json() == unknown.json() == not_email.json()
    assert wrong.json()["error"] == "invalid_credentials"


class TestBruteForce:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "login_max_failures_per_account": 3,
            "login_max_failures_per_ip": 5,
            "trusted_proxies": ["203.0.113.0/24"],
        }

    async def test_account_limit(self, client: httpx.AsyncClient, mailbox: Mailbox) -> None:
        await signed_up(client, mailbox, "brute@example.com")
        for i in range(3):
            r = await client.post(
                "/v1/auth/login",
                json={"username": "brute@example.com", "password": "guess"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
            assert r.status_code == 401
        # Limited now, from any address, even with the right password.
        r = await client.post(
            "/v1/auth/login",
            json={"username": "brute@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.99"},
        )
        assert r.status_code == 429 and r.json()["error"] == "too_many_attempts"
        assert 1 <= int(r.headers["retry-after"]) <= 900

    async def test_ip_limit_uses_forwarded_address_from_trusted_proxy(
        self, client: httpx.AsyncClient
    ) -> None:
        for i in range(5):
            r = await client.post(
                "/v1/auth/login",
                json={"username": f"spray{i}@example.com", "password": "guess"},
                headers={"X-Forwarded-For": "198.51.100.7"},
            )
            assert r.status_code == 401
        blocked = await client.post(
            "/v1/auth/login",
            json={"username": "other@example.com", "password": "guess"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert blocked.status_code == 429
        elsewhere = await client.post(
            "/v1/auth/login",
            json={"username": "other@example.com", "password": "guess"},
            headers={"X-Forwarded-For": "198.51.100.8"},
        )
        assert elsewhere.status_code == 401


async def test_forwarded_for_ignored_from_untrusted_peer(
    client: httpx.AsyncClient, services: Services
) -> None:
    await client.post(
        "/v1/auth/login",
        json={"username": "spoof@example.com", "password": "guess"},
        headers={"X-Forwarded-For": "10.9.8.7"},
    )
    events = await services.audit.events(kind="auth.login")
    assert events[0].ip == "203.0.113.7"


async def test_refresh_rotates_and_detects_reuse(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock, services: Services
) -> None:
    first = await signed_up(client, mailbox, "rotate@example.com")
    second = (await client.post("/v1/auth/refresh", json={"token": first["refresh_token"]})).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/v1/user/profile", headers=bearer(second))).status_code == 200
    # A duplicate inside the grace period (a retry, a second tab) still works.
    duplicate = await client.post("/v1/auth/refresh", json={"token": first["refresh_token"]})
    assert duplicate.status_code == 200
    clock.advance(11)
    # After the grace period the spent token is a leak: refused, and the family revoked.
    reuse = await client.post("/v1/auth/refresh", json={"token": first["refresh_token"]})
    assert reuse.status_code == 401
    for tokens in (second, duplicate.json()):
        r = await client.post("/v1/auth/refresh", json={"token": tokens["refresh_token"]})
        assert r.status_code == 401
    kinds = [e.kind for e in await services.audit.events()]
    assert "auth.refresh_reuse_detected" in kinds


async def test_refresh_token_expires(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    tokens = await signed_up(client, mailbox, "old@example.com")
    clock.advance(30 * 86400 + 1)
    r = await client.post("/v1/auth/refresh", json={"token": tokens["refresh_token"]})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "token", ["", "propusk_rt_", "propusk_rt_" + "A" * 43, "rt_abc", "propusk_rt_" + "A" * 200]
)
async def test_refresh_with_unknown_tokens(client: httpx.AsyncClient, token: str) -> None:
    r = await client.post("/v1/auth/refresh", json={"token": token})
    assert r.status_code in (400, 401)
    assert set(r.json()) == {"error", "message"}


async def test_access_token_expires(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    tokens = await signed_up(client, mailbox, "short@example.com")
    clock.advance(901)
    r = await client.get("/v1/user/profile", headers=bearer(tokens))
    assert r.status_code == 401 and r.json()["error"] == "token_expired"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_logout_revokes_the_family(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    tokens = await signed_up(client, mailbox, "bye@example.com")
    rotated = (
        await client.post("/v1/auth/refresh", json={"token": tokens["refresh_token"]})
    ).json()
    r = await client.post("/v1/auth/logout", json={"token": rotated["refresh_token"]})
    assert r.status_code == 200
    again = await client.post("/v1/auth/refresh", json={"token": rotated["refresh_token"]})
    assert again.status_code == 401
    unknown = await client.post("/v1/auth/logout", json={"token": "propusk_rt_" + "B" * 43})
    assert unknown.status_code == 200


async def test_rotation_old_tokens_still_verify(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    from datetime import timedelta

    tokens = await signed_up(client, mailbox, "keys@example.com")
    old_kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    await services.keyring.rotate_signing(timedelta(seconds=960))
    services.keyring.forget()
    assert (await client.get("/v1/user/profile", headers=bearer(tokens))).status_code == 200
    new = await login(client, "keys@example.com")
    assert jwt.get_unverified_header(new["access_token"])["kid"] != old_kid
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert old_kid in kids


async def test_password_hash_upgraded_on_login(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services, clock: ManualClock
) -> None:
    await signed_up(client, mailbox, "upgrade@example.com")
    stronger = services.settings.model_copy(update={"argon2_time_cost": 2})
    upgraded = build_services(
        stronger, db=services.db, clock=clock, cache=services.cache, master_key=MASTER_KEY
    )
    transport = httpx.ASGITransport(app=create_app(stronger, upgraded))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await login(other, "upgrade@example.com")
        await login(other, "upgrade@example.com")  # the new hash verifies
    async with services.db.session() as session:
        account = await session.scalar(
            select(Account).where(Account.email == "upgrade@example.com")
        )
        assert account is not None and account.password_hash is not None
        assert ",t=2," in account.password_hash
        events = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.kind == "auth.login"))
        )
    assert any(e.data.get("rehashed") for e in events)


async def test_service_tokens(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    user = await signed_up(client, mailbox, "plain@example.com")
    denied = await client.post("/v1/auth/token", headers=bearer(user))
    assert denied.status_code == 403
    await services.accounts.create_admin("root@example.com", PASSWORD, Origin())
    admin = await login(client, "root@example.com")
    r = await client.post("/v1/auth/token", headers=bearer(admin))
    assert r.status_code == 200, r.text
    service = r.json()
    claims = jwt.decode(service["access_token"], options={"verify_signature": False})
    admin_sub = jwt.decode(admin["access_token"], options={"verify_signature": False})["sub"]
    assert claims["roles"] == ["user"] and claims["sub"] != admin_sub
    profile = (await client.get("/v1/user/profile", headers=bearer(service))).json()
    assert profile["type"] == "service"
    named = await client.post(
        "/v1/auth/token", json={"name": "indexer", "roles": ["admin"]}, headers=bearer(admin)
    )
    assert named.status_code == 200
    assert jwt.decode(named.json()["access_token"], options={"verify_signature": False})[
        "roles"
    ] == ["admin", "user"]
    beyond = await client.post("/v1/auth/token", json={"roles": ["privacy"]}, headers=bearer(admin))
    assert beyond.status_code == 403
    unknown = await client.post("/v1/auth/token", json={"roles": ["root"]}, headers=bearer(admin))
    assert unknown.status_code == 400
    refreshed = await client.post("/v1/auth/refresh", json={"token": service["refresh_token"]})
    assert refreshed.status_code == 200


async def test_admin_assigns_roles(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    user = await signed_up(client, mailbox, "member@example.com")
    await services.accounts.create_admin("boss@example.com", PASSWORD, Origin())
    admin = await login(client, "boss@example.com")
    found = await client.get(
        "/v1/admin/accounts", params={"email": "member@example.com"}, headers=bearer(admin)
    )
    account_id = found.json()["id"]
    r = await client.put(
        f"/v1/admin/accounts/{account_id}/roles", json={"roles": ["privacy"]}, headers=bearer(admin)
    )
    assert r.json() == {"roles": ["privacy", "user"]}
    refreshed = (
        await client.post("/v1/auth/refresh", json={"token": user["refresh_token"]})
    ).json()
    roles = jwt.decode(refreshed["access_token"], options={"verify_signature": False})["roles"]
    assert roles == ["privacy", "user"]
    as_user = await client.put(
        f"/v1/admin/accounts/{account_id}/roles", json={"roles": ["admin"]}, headers=bearer(user)
    )
    assert as_user.status_code == 403
    missing = await client.put(
        "/v1/admin/accounts/00000000-0000-0000-0000-000000000000/roles",
        json={"roles": []},
        headers=bearer(admin),
    )
    assert missing.status_code == 404
    bad_role = await client.put(
        f"/v1/admin/accounts/{account_id}/roles", json={"roles": ["root"]}, headers=bearer(admin)
    )
    assert bad_role.status_code == 400


async def test_disabled_account_cannot_log_in(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    await register(client, "off@example.com")
    async with services.db.session() as session:
        account = await session.scalar(select(Account).where(Account.email == "off@example.com"))
        assert account is not None
        account.status = "disabled"
    r = await client.post(
        "/v1/auth/login", json={"username": "off@example.com", "password": PASSWORD}
    )
    assert r.status_code == 403 and r.json()["error"] == "account_disabled"
