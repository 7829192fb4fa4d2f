"""The API-key flow against the real app: ``X-API-Key`` on every request and nothing else,
scopes, reroll and revoke as the API sees them, early refusal of malformed keys without
quoting them, no secret in ``repr``, and the same object driving a sync ``httpx.Client``
over a real socket."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from propusk.client import ApiKeyAuth
from tests.client.conftest import Recording
from tests.client.live import LiveServer
from tests.helpers import PASSWORD, bearer
from tests.support import Mailbox
from tests.web.service_key_helpers import owner_with_org

METHODS = ["reviews.read", "reports.read"]


async def new_key(
    client: httpx.AsyncClient, owner: dict[str, str], org: str, **body: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/orgs/{org}/api-keys", json={"name": "sdk", "methods": METHODS, **body}, headers=owner
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_every_request_carries_the_key_and_nothing_else(
    client: httpx.AsyncClient, api: httpx.AsyncClient, wire: Recording, mailbox: Mailbox
) -> None:
    owner, org, (a, b) = await owner_with_org(client, mailbox, "sdk-ak@example.com")
    created = await new_key(client, owner, org, appIds=[a])
    auth = ApiKeyAuth(created["key"])
    assert auth.key_id == created["keyId"]

    ok = await api.get(f"/demo/apps/{a}/reviews", auth=auth)
    assert ok.status_code == 200, ok.text
    assert ok.json()["authenticatedBy"] == "api-key" and ok.json()["org"] == org
    assert (await api.get("/demo/reports", auth=auth)).status_code == 200
    # The scope is the server's business: another app, another method are refused.
    assert (await api.get(f"/demo/apps/{b}/reviews", auth=auth)).status_code == 403
    assert (await api.get(f"/demo/apps/{a}", auth=auth)).status_code == 403

    # One request per call (no exchange, no retry), the key as given, no other credential.
    assert len(wire.requests) == 4
    for request in wire.requests:
        assert request.headers.get_list("X-API-Key") == [created["key"]]
        assert "Authorization" not in request.headers and "Public-Token" not in request.headers

    # A header already on the request is replaced, not doubled.
    wire.clear()
    stale = {"X-API-Key": "propusk_" + "0" * 16 + "_" + "0" * 64}
    again = await api.get(f"/demo/apps/{a}/reviews", auth=auth, headers=stale)
    assert again.status_code == 200
    assert wire.requests[0].headers.get_list("X-API-Key") == [created["key"]]


async def test_reroll_grace_and_revoke_as_the_client_sees_them(
    client: httpx.AsyncClient, api: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "sdk-reroll@example.com", apps=1)
    created = await new_key(client, owner, org, allApps=True)
    path = f"/v1/orgs/{org}/api-keys/{created['keyId']}"
    reviews = f"/demo/apps/{apps[0]}/reviews"
    old = ApiKeyAuth(created["key"])

    graced = await client.post(f"{path}/reroll", json={"graceSeconds": 300}, headers=owner)
    assert graced.status_code == 200, graced.text
    middle = ApiKeyAuth(graced.json()["key"])
    assert middle.key_id == old.key_id  # same key ID, new secret
    assert (await api.get(reviews, auth=old)).status_code == 200  # within the grace
    assert (await api.get(reviews, auth=middle)).status_code == 200

    now = await client.post(f"{path}/reroll", json={"graceSeconds": 0}, headers=owner)
    assert now.status_code == 200, now.text
    newest = ApiKeyAuth(now.json()["key"])
    assert (await api.get(reviews, auth=middle)).status_code == 401
    assert (await api.get(reviews, auth=old)).status_code == 401
    assert (await api.get(reviews, auth=newest)).status_code == 200

    assert (await client.post(f"{path}/revoke", headers=owner)).status_code == 200
    refused = await api.get(reviews, auth=newest)
    assert refused.status_code == 401
    assert now.json()["key"] not in refused.text


def secret_like(n: int) -> str:
    return "".join("0123456789abcdef"[(7 * i + 3) % 16] for i in range(n))


SECRET = secret_like(64)
MALFORMED = {
    "empty": "",
    "blank": "  \n",
    "inner space": f"propusk_{'a' * 16} {SECRET}",
    "newline inside": f"propusk_{'a' * 16}_{SECRET[:30]}\n{SECRET[30:]}",
    "control character": f"node\x00{SECRET}",
    "non-ASCII": f"ключ{SECRET}",
    "short secret": f"propusk_{'a' * 16}_{SECRET[:-1]}",
    "long secret": f"propusk_{'a' * 16}_{SECRET}0",
    "uppercase": f"propusk_{'A' * 16}_{SECRET.upper()}",
    "no key id": f"propusk__{SECRET}",
    "too long": "k" * 1025 + SECRET,
}


@pytest.mark.parametrize("key", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_key_is_refused_early_without_quoting_it(key: str) -> None:
    with pytest.raises(ValueError, match="API key") as raised:
        ApiKeyAuth(key)
    message = str(raised.value)
    assert SECRET[:8] not in message and SECRET[-8:] not in message


def test_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError):
        ApiKeyAuth(b"propusk_" + b"a" * 16 + b"_" + SECRET.encode())  # type: ignore[arg-type]


def test_repr_never_shows_the_secret() -> None:
    managed = ApiKeyAuth(f" propusk_{'ab' * 8}_{SECRET}\n")  # as read from a file
    assert managed.key_id == "ab" * 8
    assert repr(managed) == str(managed) == f"ApiKeyAuth(key_id='{'ab' * 8}')"
    node = ApiKeyAuth(f"node-{SECRET}")
    assert node.key_id is None
    for text in (repr(managed), str(managed), repr(node), str(node)):
        assert SECRET[:8] not in text and SECRET[-8:] not in text

    # Stripped, as sent: a trailing newline from a file is not part of the key.
    request = httpx.Request("GET", "http://api.test/")
    flow = managed.sync_auth_flow(request)
    assert next(flow).headers["X-API-Key"] == f"propusk_{'ab' * 8}_{SECRET}"


def test_a_node_style_key_is_sent_unchanged() -> None:
    # Waves-compatible keys (checked against configured hashes) have no fixed shape.
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-API-Key"])
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=ApiKeyAuth("s3cr3t~K3y")) as h:
        h.get("http://node.test/addresses")
    assert seen == ["s3cr3t~K3y"]


def test_sync_client_over_a_real_socket(live: LiveServer, mailbox: Mailbox) -> None:
    live.signed_up(mailbox, "sync-ak@example.com")
    with httpx.Client(base_url=live.url, timeout=10) as http:
        owner = bearer(
            http.post(
                "/v1/auth/login", json={"username": "sync-ak@example.com", "password": PASSWORD}
            ).json()
        )
        org = http.post("/v1/orgs", json={"name": "Sync", "kind": "company"}, headers=owner)
        org_id = org.json()["id"]
        app = http.post(f"/v1/orgs/{org_id}/apps", json={"name": "A"}, headers=owner)
        app_id = app.json()["id"]
        created = http.post(
            f"/v1/orgs/{org_id}/api-keys",
            json={"name": "sync", "appIds": [app_id], "methods": ["reviews.read"]},
            headers=owner,
        )
        assert created.status_code == 201, created.text
        key = created.json()

    with httpx.Client(base_url=live.url, auth=ApiKeyAuth(key["key"]), timeout=10) as api:
        ok = api.get(f"/demo/apps/{app_id}/reviews")
        assert ok.status_code == 200, ok.text
        assert ok.json()["authenticatedBy"] == "api-key"
        assert api.get("/demo/reports").status_code == 403  # not in the key's methods
