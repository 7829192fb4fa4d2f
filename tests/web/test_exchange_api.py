"""The exchange (spec §1), scopes, revocation across nodes, JOSE interop, introspection."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jwe
from joserfc.jwk import OctKey

from propusk.config import Settings
from propusk.services.audit import Origin
from propusk.web.app import create_app
from propusk.wiring import Services, build_services
from tests.conftest import MASTER_KEY
from tests.helpers import PASSWORD, bearer, login
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import (
    exchange,
    load_private,
    owner_with_org,
    sign,
    timestamp,
)

KEYS = "/v1/orgs/{org}/service-keys"


async def new_key(
    client: httpx.AsyncClient, owner: dict[str, str], org: str, **scope: Any
) -> tuple[str, rsa.RSAPrivateKey]:
    body = {"name": "k", "methods": ["apps.read", "reviews.read"], **scope}
    r = await client.post(KEYS.format(org=org), json=body, headers=owner)
    assert r.status_code == 201, r.text
    return r.json()["keyId"], load_private(r.json()["privateKey"])


async def token_for(
    client: httpx.AsyncClient, key_id: str, key: rsa.RSAPrivateKey, clock: ManualClock
) -> str:
    r = await exchange(client, key_id, key, clock.now())
    assert r.status_code == 200, r.text
    return str(r.json()["body"]["jwe"])


def envelope_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "message", "body", "timestamp"}
    assert body["code"] == "ERROR" and body["body"] is None
    assert body["timestamp"].endswith("+00:00")
    return str(body["message"])


@pytest.mark.parametrize(
    ("offset", "fraction"), [(3, "milliseconds"), (0, "milliseconds"), (-5, "seconds")]
)
async def test_timestamp_formats(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock, offset: int, fraction: str
) -> None:
    from datetime import timezone

    owner, org, apps = await owner_with_org(client, mailbox, "ts@example.com", apps=1)
    key_id, key = await new_key(client, owner, org, appIds=apps)
    local = clock.now().astimezone(timezone(timedelta(hours=offset)))
    for ts in (
        local.isoformat(timespec=fraction),
        local.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + "8328711"
        + local.strftime("%z")[:3]
        + ":"
        + local.strftime("%z")[3:],
    ):
        r = await client.post(
            "/public/auth",
            json={"keyId": key_id, "timestamp": ts, "signature": sign(key, key_id, ts)},
        )
        assert r.status_code == 200, (ts, r.text)


async def test_wrapped_signature_and_both_paths(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "wrap@example.com", apps=1)
    key_id, key = await new_key(client, owner, org, appIds=apps)
    r = await exchange(client, key_id, key, clock.now(), wrap=True)
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == "OK" and body["message"] is None
    assert set(body["body"]) == {"jwe", "ttl"} and body["body"]["ttl"] == 900
    assert body["body"]["jwe"].count(".") == 4


async def test_refusals(client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "no@example.com", apps=1)
    key_id, key = await new_key(client, owner, org, appIds=apps)
    now = clock.now()

    async def post(body: Any) -> httpx.Response:
        return await client.post("/public/auth/", json=body)

    for shift in (-61, 61, -3600):
        ts = timestamp(now, shift=shift)
        r = await post({"keyId": key_id, "timestamp": ts, "signature": sign(key, key_id, ts)})
        assert envelope_error(r, 400) == "Range timestamp not valid"
    ts = timestamp(now)
    opaque = {
        "unknown key": {"keyId": "nope", "timestamp": ts, "signature": sign(key, "nope", ts)},
        "other message": {
            "keyId": key_id,
            "timestamp": ts,
            "signature": sign(key, key_id, timestamp(now, shift=1)),
        },
        "other key": {
            "keyId": key_id,
            "timestamp": ts,
            "signature": sign(rsa.generate_private_key(65537, 2048), key_id, ts),
        },
    }
    sha256 = key.sign((key_id + ts).encode(), padding.PKCS1v15(), hashes.SHA256())
    opaque["sha256"] = {
        "keyId": key_id,
        "timestamp": ts,
        "signature": base64.b64encode(sha256).decode(),
    }
    messages = {envelope_error(await post(body), 401) for body in opaque.values()}
    assert len(messages) == 1  # one opaque answer whatever went wrong
    refused = await post({"companyId": "1", "timestamp": ts, "signature": "x"})
    assert "keyId" in envelope_error(refused, 400)
    for bad in (
        {"keyId": key_id},
        {"keyId": 5, "timestamp": ts, "signature": "x"},
        [1, 2],
        {"keyId": key_id, "timestamp": "yesterday", "signature": "AAAA"},
        {"keyId": key_id, "timestamp": ts, "signature": "not base64!"},
    ):
        envelope_error(await post(bad), 400)
    r = await client.post(
        "/public/auth/", content=b"{not json", headers={"content-type": "application/json"}
    )
    envelope_error(r, 400)


async def test_replay_is_refused(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "replay@example.com", apps=1)
    key_id, key = await new_key(client, owner, org, appIds=apps)
    ts = timestamp(clock.now())
    body = {"keyId": key_id, "timestamp": ts, "signature": sign(key, key_id, ts)}
    assert (await client.post("/public/auth/", json=body)).status_code == 200
    envelope_error(await client.post("/public/auth/", json=body), 401)
    # The same signature with newlines added is the same signature.
    body["signature"] = body["signature"][:60] + "\n" + body["signature"][60:]
    envelope_error(await client.post("/public/auth/", json=body), 401)


async def test_scope_matrix(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, (app_a, app_b) = await owner_with_org(client, mailbox, "scope@example.com")
    key_id, key = await new_key(
        client, owner, org, appIds=[app_a], methods=["reviews.read", "reports.read"]
    )
    token = {"Public-Token": await token_for(client, key_id, key, clock)}
    assert (await client.get(f"/demo/apps/{app_a}/reviews", headers=token)).status_code == 200
    assert (await client.get(f"/demo/apps/{app_b}/reviews", headers=token)).status_code == 403
    # apps.read is not held, even for app A; reports.read is general: no app scope applies.
    assert (await client.get(f"/demo/apps/{app_a}", headers=token)).status_code == 403
    assert (await client.get("/demo/reports", headers=token)).status_code == 200
    # "All apps" is the apps that exist now: an app created later is not covered.
    all_id, all_key = await new_key(client, owner, org, allApps=True)
    all_token = {"Public-Token": await token_for(client, all_id, all_key, clock)}
    later = (
        await client.post(f"/v1/orgs/{org}/apps", json={"name": "Later"}, headers=owner)
    ).json()["id"]
    for app in (app_a, app_b):
        assert (await client.get(f"/demo/apps/{app}/reviews", headers=all_token)).status_code == 200
    assert (await client.get(f"/demo/apps/{later}/reviews", headers=all_token)).status_code == 403
    clock.advance(1)
    fresh = {"Public-Token": await token_for(client, all_id, all_key, clock)}
    assert (await client.get(f"/demo/apps/{later}/reviews", headers=fresh)).status_code == 403


async def test_token_expires(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "exp@example.com", apps=1)
    key_id, key = await new_key(client, owner, org, appIds=apps)
    token = {"Public-Token": await token_for(client, key_id, key, clock)}
    clock.advance(899)
    assert (await client.get(f"/demo/apps/{apps[0]}", headers=token)).status_code == 200
    clock.advance(2)
    assert (await client.get(f"/demo/apps/{apps[0]}", headers=token)).status_code == 401


@pytest.mark.parametrize("action", ["rotate", "disable", "delete", "rescope"])
async def test_revocation_is_immediate_on_this_node(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock, action: str
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, f"{action}@example.com", apps=1)
    key_id, key = await new_key(client, owner, org, appIds=apps)
    token = {"Public-Token": await token_for(client, key_id, key, clock)}
    assert (await client.get(f"/demo/apps/{apps[0]}", headers=token)).status_code == 200
    base = f"{KEYS.format(org=org)}/{key_id}"
    if action == "rotate":
        r = await client.post(f"{base}/rotate", headers=owner)
    elif action == "disable":
        r = await client.post(f"{base}/disable", headers=owner)
    elif action == "delete":
        r = await client.delete(base, headers=owner)
    else:
        r = await client.patch(base, json={"methods": ["reviews.read"]}, headers=owner)
    assert r.status_code in (200, 204)
    assert (await client.get(f"/demo/apps/{apps[0]}", headers=token)).status_code == 401
    if action in ("rotate", "disable", "delete"):
        clock.advance(1)
        assert (await exchange(client, key_id, key, clock.now())).status_code == 401


async def test_rotation_grace_and_enable(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "grace@example.com", apps=1)
    key_id, old_key = await new_key(client, owner, org, appIds=apps)
    base = f"{KEYS.format(org=org)}/{key_id}"
    rotated = await client.post(f"{base}/rotate", json={"graceSeconds": 300}, headers=owner)
    new_private = load_private(rotated.json()["privateKey"])
    assert (await exchange(client, key_id, old_key, clock.now())).status_code == 200
    assert (await exchange(client, key_id, new_private, clock.now())).status_code == 200
    clock.advance(301)
    assert (await exchange(client, key_id, old_key, clock.now())).status_code == 401
    token = {"Public-Token": await token_for(client, key_id, new_private, clock)}
    await client.post(f"{base}/disable", headers=owner)
    await client.post(f"{base}/enable", headers=owner)
    # A token from before the disable stays dead; a fresh one works.
    assert (await client.get(f"/demo/apps/{apps[0]}", headers=token)).status_code == 401
    clock.advance(1)
    fresh = {"Public-Token": await token_for(client, key_id, new_private, clock)}
    assert (await client.get(f"/demo/apps/{apps[0]}", headers=fresh)).status_code == 200


class TestOtherNodes:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"key_state_ttl": 0.3}

    async def test_revocation_reaches_another_node_within_key_state_ttl(
        self,
        client: httpx.AsyncClient,
        mailbox: Mailbox,
        clock: ManualClock,
        settings: Settings,
        services: Services,
    ) -> None:
        owner, org, apps = await owner_with_org(client, mailbox, "nodes@example.com", apps=1)
        key_id, key = await new_key(client, owner, org, appIds=apps)
        token = {"Public-Token": await token_for(client, key_id, key, clock)}
        # A second node: its own services (own caches) over the same database.
        other = build_services(
            settings, db=services.db, clock=clock, cache=services.cache, master_key=MASTER_KEY
        )
        transport = httpx.ASGITransport(app=create_app(settings, other))
        async with httpx.AsyncClient(transport=transport, base_url="http://node2") as node2:
            path = f"/demo/apps/{apps[0]}"
            assert (await node2.get(path, headers=token)).status_code == 200
            await client.post(f"{KEYS.format(org=org)}/{key_id}/disable", headers=owner)
            assert (await client.get(path, headers=token)).status_code == 401  # this node: at once
            assert (await node2.get(path, headers=token)).status_code == 200  # cached state
            await asyncio.sleep(0.35)
            assert (await node2.get(path, headers=token)).status_code == 401  # within the bound


async def test_tokens_interoperate_with_joserfc(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "jose@example.com", apps=1)
    key_id, key = await new_key(client, owner, org, appIds=apps)
    token = await token_for(client, key_id, key, clock)
    keys = await services.keyring.jwe_decryption_keys()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "dir" and header["enc"] == "A256GCM" and header["kid"] in keys
    plain = jwe.decrypt_compact(token, OctKey.import_key(keys[header["kid"]]))
    claims = json.loads(plain.plaintext or b"")
    assert claims["sub"] == key_id and claims["org"] == org and claims["apps"] == apps
    assert claims["methods"] == ["apps.read", "reviews.read"]
    assert claims["exp"] - claims["iat"] == 900 and claims["iss"] == "http://testserver"
    # And a token made by joserfc with the keyring key is accepted by Propusk.
    claims["jti"] = "made-by-joserfc"
    made = jwe.encrypt_compact(
        {"alg": "dir", "enc": "A256GCM", "kid": header["kid"]},
        json.dumps(claims).encode(),
        OctKey.import_key(keys[header["kid"]]),
    )
    r = await client.get(f"/demo/apps/{apps[0]}", headers={"Public-Token": made})
    assert r.status_code == 200


async def test_introspection(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "intro@example.com", apps=1)
    key_id, key = await new_key(client, owner, org, appIds=apps)
    token = await token_for(client, key_id, key, clock)
    await services.accounts.create_admin("rs@example.com", PASSWORD, Origin())
    account_id = await services.accounts.find_id_by_email("rs@example.com")
    await services.accounts.set_roles(None, account_id, ["introspect"], Origin())
    rs = bearer(await login(client, "rs@example.com"))
    form = {"content-type": "application/x-www-form-urlencoded"}

    async def ask(value: str, headers: dict[str, str] = rs) -> httpx.Response:
        return await client.post(
            "/v1/introspect", content=f"token={value}", headers={**headers, **form}
        )

    active = (await ask(token)).json()
    assert active["active"] is True and active["sub"] == key_id and active["org"] == org
    assert active["scope"] == "apps.read reviews.read" and active["apps"] == apps
    assert active["token_use"] == "service-key"
    account = (await ask(rs["Authorization"].split()[1])).json()
    assert account["active"] is True and "introspect" in account["roles"]
    for bad in ("garbage", "a.b.c.d.e", token[:-3] + "AAA"):
        assert (await ask(bad)).json() == {"active": False}
    assert (await ask(token, headers=owner)).status_code == 403  # no introspect role
    assert (
        await client.post("/v1/introspect", content=f"token={token}", headers={**form})
    ).status_code == 401
    r = await client.post("/v1/introspect", json={"token": token}, headers=rs)
    assert r.status_code == 400


async def test_refusals_cannot_flood_the_audit_log(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "flood@example.com", apps=1)
    key_id, _ = await new_key(client, owner, org, appIds=apps)
    stranger = rsa.generate_private_key(65537, 2048)
    for i in range(25):
        clock.advance(0.01)
        ts = timestamp(clock.now(), shift=i * 0.001)
        r = await client.post(
            "/public/auth/",
            json={"keyId": key_id, "timestamp": ts, "signature": sign(stranger, key_id, ts)},
        )
        assert r.status_code == 401
    failures = await services.audit.events(kind="service_key.exchange")
    assert len(failures) == 10


async def test_refusals_before_the_route_use_the_envelope_too(client: httpx.AsyncClient) -> None:
    big = {"keyId": "k", "timestamp": "t", "signature": "A" * 70_000}
    envelope_error(await client.post("/public/auth/", json=big), 413)
    envelope_error(await client.get("/public/auth/"), 405)
    envelope_error(await client.delete("/public/auth"), 405)
    # Elsewhere the size refusal stays in Propusk's own envelope.
    r = await client.post("/v1/user", json={"login": "x" * 70_000})
    assert r.status_code == 413 and set(r.json()) == {"error", "message"}
