from __future__ import annotations

import httpx

from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import exchange, load_private, owner_with_org


async def test_create_exchange_and_call(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "sk@example.com")
    r = await client.post(
        f"/v1/orgs/{org}/service-keys",
        json={"name": "CI", "appIds": [apps[0]], "methods": ["reviews.read", "reports.read"]},
        headers=owner,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["privateKey"].startswith("MIIE")
    key = load_private(created["privateKey"])
    answer = await exchange(client, created["keyId"], key, clock.now())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["code"] == "OK" and body["message"] is None and body["body"]["ttl"] == 900
    token = body["body"]["jwe"]
    ok = await client.get(f"/demo/apps/{apps[0]}/reviews", headers={"Public-Token": token})
    assert ok.status_code == 200, ok.text
    assert ok.json()["authenticatedBy"] == "service-key"
    other = await client.get(f"/demo/apps/{apps[1]}/reviews", headers={"Public-Token": token})
    assert other.status_code == 403
    assert (await client.get("/demo/reports", headers={"Public-Token": token})).status_code == 200
