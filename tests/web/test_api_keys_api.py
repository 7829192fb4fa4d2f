"""Managed API keys: shown once, stored as HMAC, scoped, rerolled, revoked, reported leaked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from propusk.storage.models import ApiKey, Base
from propusk.wiring import Services
from tests.helpers import bearer, signed_up
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import owner_with_org

KEYS = "/v1/orgs/{org}/api-keys"


async def new_key(
    client: httpx.AsyncClient, owner: dict[str, str], org: str, **body: Any
) -> dict[str, Any]:
    payload = {"name": "deploy", "methods": ["reviews.read", "reports.read"], **body}
    r = await client.post(KEYS.format(org=org), json=payload, headers=owner)
    assert r.status_code == 201, r.text
    return dict(r.json())


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def test_key_shown_once_and_only_hashed(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "ak@example.com")
    created = await new_key(client, owner, org, appIds=apps)
    key = created["key"]
    assert key.startswith(f"propusk_{created['keyId']}_") and len(key) == 8 + 16 + 1 + 64
    assert created["prefix"] == f"propusk_{created['keyId']}" and created["last4"] == key[-4:]
    listed = (await client.get(KEYS.format(org=org), headers=owner)).json()["items"]
    assert "key" not in listed[0] and listed[0]["last4"] == key[-4:]
    secret = key.rsplit("_", 1)[1]
    async with services.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                assert secret not in repr(tuple(row)) and secret[:32] not in repr(tuple(row))
        stored = await session.scalar(select(ApiKey.digest))
    assert stored is not None and len(stored) == 64 and stored != secret


async def test_scope_and_header_case(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner, org, (a, b) = await owner_with_org(client, mailbox, "scope-ak@example.com")
    key = (await new_key(client, owner, org, appIds=[a]))["key"]
    assert (await client.get(f"/demo/apps/{a}/reviews", headers=key_header(key))).status_code == 200
    assert (await client.get(f"/demo/apps/{b}/reviews", headers=key_header(key))).status_code == 403
    assert (await client.get(f"/demo/apps/{a}", headers=key_header(key))).status_code == 403
    assert (await client.get("/demo/reports", headers={"x-api-key": key})).status_code == 200
    forward = await client.get("/v1/authorize/demo/reports", headers={"X-API-KEY": key})
    # The test client is not a forward-auth client by default: only the header case matters
    # here, the guard above already proved the key; forward-auth is covered elsewhere.
    assert forward.status_code == 403


async def test_hostile_values(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "hostile@example.com", apps=1)
    key = (await new_key(client, owner, org, appIds=apps))["key"]
    other_owner, other_org, other_apps = await owner_with_org(
        client, mailbox, "other-ak@example.com", apps=1
    )
    other_key = (await new_key(client, other_owner, other_org, appIds=other_apps))["key"]
    key_id, secret = key[len("propusk_") :].split("_")
    values = {
        "prefix-only": "propusk_",
        "truncated": key[:-1],
        "extended": key + "0",
        "wrong-secret": f"propusk_{key_id}_{'0' * 64}",
        "uppercase": key.upper(),
        "other-id": f"propusk_{'0' * 16}_{secret}",
        "huge": "propusk_" + "a" * 9000,
        "non-hex": f"propusk_{key_id}_{'z' * 64}",
    }
    for name, value in values.items():
        r = await client.get(f"/demo/apps/{apps[0]}/reviews", headers=key_header(value))
        assert r.status_code in (401, 431), (name, r.text)
        assert set(r.json()) == {"error", "message"}
    # Another org's valid key gets nothing of this org's apps.
    r = await client.get(f"/demo/apps/{apps[0]}/reviews", headers=key_header(other_key))
    assert r.status_code == 403
    # Non-ASCII bytes in the header (latin-1 on the wire) are refused, not a 500.
    r = await client.get(
        f"/demo/apps/{apps[0]}/reviews", headers=[(b"x-api-key", b"propusk_\xff\xfe")]
    )
    assert r.status_code == 401


async def test_expiry_revoke_delete(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "life-ak@example.com", apps=1)
    path = f"/demo/apps/{apps[0]}/reviews"
    expiring = await new_key(
        client, owner, org, appIds=apps, expiresAt=(clock.now() + timedelta(minutes=10)).isoformat()
    )
    assert (await client.get(path, headers=key_header(expiring["key"]))).status_code == 200
    clock.advance(601)  # the owner's 15-minute access token is still good
    assert (await client.get(path, headers=key_header(expiring["key"]))).status_code == 401
    past = await client.post(
        KEYS.format(org=org),
        headers=owner,
        json={
            "name": "x",
            "methods": ["reviews.read"],
            "allApps": True,
            "expiresAt": (clock.now() - timedelta(seconds=1)).isoformat(),
        },
    )
    assert past.status_code == 400
    revoked = await new_key(client, owner, org, appIds=apps)
    base = f"{KEYS.format(org=org)}/{revoked['keyId']}"
    assert (await client.post(f"{base}/revoke", headers=owner)).json()["status"] == "revoked"
    assert (await client.get(path, headers=key_header(revoked["key"]))).status_code == 401
    assert (await client.post(f"{base}/reroll", headers=owner)).status_code == 400
    gone = await new_key(client, owner, org, appIds=apps)
    assert (
        await client.delete(f"{KEYS.format(org=org)}/{gone['keyId']}", headers=owner)
    ).status_code == 204
    assert (await client.get(path, headers=key_header(gone["key"]))).status_code == 401


async def test_reroll_with_grace(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "reroll@example.com", apps=1)
    path = f"/demo/apps/{apps[0]}/reviews"
    created = await new_key(client, owner, org, appIds=apps)
    base = f"{KEYS.format(org=org)}/{created['keyId']}"
    rerolled = (
        await client.post(f"{base}/reroll", json={"graceSeconds": 60}, headers=owner)
    ).json()
    assert rerolled["keyId"] == created["keyId"] and rerolled["key"] != created["key"]
    for key in (created["key"], rerolled["key"]):
        assert (await client.get(path, headers=key_header(key))).status_code == 200
    clock.advance(61)
    assert (await client.get(path, headers=key_header(created["key"]))).status_code == 401
    assert (await client.get(path, headers=key_header(rerolled["key"]))).status_code == 200
    at_once = (await client.post(f"{base}/reroll", headers=owner)).json()
    assert (await client.get(path, headers=key_header(rerolled["key"]))).status_code == 401
    assert (await client.get(path, headers=key_header(at_once["key"]))).status_code == 200


@pytest.mark.parametrize(
    ("role", "manage"), [("admin", True), ("developer", False), ("viewer", False)]
)
async def test_who_manages(
    client: httpx.AsyncClient, mailbox: Mailbox, role: str, manage: bool
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "own-ak@example.com", apps=1)
    member = bearer(await signed_up(client, mailbox, "mem-ak@example.com"))
    await client.post(
        f"/v1/orgs/{org}/members", json={"email": "mem-ak@example.com", "role": role}, headers=owner
    )
    r = await client.post(
        KEYS.format(org=org),
        headers=member,
        json={"name": "m", "methods": ["reviews.read"], "appIds": apps},
    )
    assert r.status_code == (201 if manage else 403)
    assert (await client.get(KEYS.format(org=org), headers=member)).status_code == 200
    stranger = bearer(await signed_up(client, mailbox, "str-ak@example.com"))
    assert (await client.get(KEYS.format(org=org), headers=stranger)).status_code == 404


async def test_last_used_is_batched(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "used@example.com", apps=1)
    created = await new_key(client, owner, org, appIds=apps)
    for _ in range(5):
        await client.get(f"/demo/apps/{apps[0]}/reviews", headers=key_header(created["key"]))
    async with services.db.session() as session:
        assert await session.scalar(select(ApiKey.last_used_at)) is None  # nothing written yet
    view = (await client.get(f"{KEYS.format(org=org)}/{created['keyId']}", headers=owner)).json()
    assert view["lastUsedAt"] is not None  # the API already shows it
    assert await services.api_keys.flush() == 1  # one write for five uses
    async with services.db.session() as session:
        assert await session.scalar(select(ApiKey.last_used_at)) is not None


class TestLeakReports:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"leak_report_token": "scanner-secret"}

    async def test_reported_keys_are_revoked(
        self, client: httpx.AsyncClient, mailbox: Mailbox, services: Services
    ) -> None:
        owner, org, apps = await owner_with_org(client, mailbox, "leak@example.com", apps=1)
        leaked = await new_key(client, owner, org, appIds=apps)
        kept = await new_key(client, owner, org, appIds=apps)
        body = [
            {"token": leaked["key"], "type": "propusk_api_key", "url": "https://x"},
            "propusk_" + "0" * 16 + "_" + "0" * 64,
            "not a key",
        ]
        denied = await client.post(
            "/v1/api-keys/leaked", json=body, headers={"Authorization": "Bearer wrong"}
        )
        assert denied.status_code == 401
        r = await client.post(
            "/v1/api-keys/leaked", json=body, headers={"Authorization": "Bearer scanner-secret"}
        )
        assert r.status_code == 200
        assert r.json()["revoked"] == 1
        assert r.json()["results"][0] == {"keyId": leaked["keyId"], "revoked": True}
        assert leaked["key"] not in r.text
        # A wrong secret for a real id does not confirm the id; a second report revokes nothing.
        assert r.json()["results"][1] == {"keyId": None, "revoked": False}
        again = await client.post(
            "/v1/api-keys/leaked",
            json=[leaked["key"]],
            headers={"Authorization": "Bearer scanner-secret"},
        )
        assert again.json() == {
            "revoked": 0,
            "results": [{"keyId": leaked["keyId"], "revoked": False}],
        }
        path = f"/demo/apps/{apps[0]}/reviews"
        assert (await client.get(path, headers=key_header(leaked["key"]))).status_code == 401
        assert (await client.get(path, headers=key_header(kept["key"]))).status_code == 200
        events = await services.audit.events(kind="api_key.revoked")
        assert events[0].data == {"reason": "leaked"} and events[0].actor_type == "system"


async def test_leak_endpoint_is_off_without_a_token(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/api-keys/leaked", json=["x"], headers={"Authorization": "Bearer "})
    assert r.status_code == 401


@pytest.mark.parametrize("key_id", ["zzzzzzzzzzzzzzzz", "0000000000000000", "x", "%20"])
async def test_unknown_key_ids_are_404_everywhere(
    client: httpx.AsyncClient, mailbox: Mailbox, key_id: str
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "ids@example.com", apps=0)
    base = f"{KEYS.format(org=org)}/{key_id}"
    for method, path in [
        ("GET", base),
        ("POST", f"{base}/reroll"),
        ("POST", f"{base}/revoke"),
        ("PATCH", base),
        ("DELETE", base),
    ]:
        r = await client.request(
            method, path, json={} if method == "PATCH" else None, headers=owner
        )
        assert r.status_code == 404, (method, path, r.text)
