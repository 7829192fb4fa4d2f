"""Service-key management (spec §1): who may do what, validation, scope, private key once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from propusk.storage.models import Base
from propusk.wiring import Services
from tests.helpers import bearer, signed_up
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import exchange, load_private, owner_with_org

KEYS = "/v1/orgs/{org}/service-keys"


async def create(
    client: httpx.AsyncClient, owner: dict[str, str], org: str, **body: Any
) -> httpx.Response:
    payload = {"name": "CI key", "methods": ["reviews.read"], **body}
    return await client.post(KEYS.format(org=org), json=payload, headers=owner)


async def test_create_shows_the_private_key_once(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "once@example.com")
    r = await create(client, owner, org, appIds=apps)
    assert r.status_code == 201
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {
        "keyId",
        "name",
        "apps",
        "methods",
        "status",
        "generated",
        "publicKeyPem",
        "createdAt",
        "updatedAt",
        "lastUsedAt",
        "privateKey",
        "privateKeyPem",
    }
    assert body["privateKey"].startswith("MIIE") and "\n" not in body["privateKey"]
    assert body["privateKeyPem"].startswith("-----BEGIN PRIVATE KEY-----")
    private = load_private(body["privateKey"])
    assert private.key_size == 2048
    pem_key = serialization.load_pem_private_key(body["privateKeyPem"].encode(), None)
    assert isinstance(pem_key, rsa.RSAPrivateKey)
    assert pem_key.private_numbers() == private.private_numbers()
    listed = (await client.get(KEYS.format(org=org), headers=owner)).json()["items"]
    got = (await client.get(f"{KEYS.format(org=org)}/{body['keyId']}", headers=owner)).json()
    for view in (listed[0], got):
        assert "privateKey" not in view and "privateKeyPem" not in view
        assert view["apps"] == sorted(apps) and view["methods"] == ["reviews.read"]
    # Nothing of the private key is stored anywhere: not its text, not its private exponent
    # (the modulus is public and is of course in the stored public key).
    d = private.private_numbers().d
    secret_bytes = d.to_bytes((d.bit_length() + 7) // 8, "big")[:48]
    async with services.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                text = repr(tuple(row))
                assert body["privateKey"][:40] not in text
                for value in row:
                    if isinstance(value, bytes):
                        assert secret_bytes not in value


async def test_uploaded_public_key(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "upload@example.com")
    private = rsa.generate_private_key(65537, 3072)
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode()
    )
    r = await create(client, owner, org, appIds=apps, publicKeyPem=pem)
    assert r.status_code == 201
    assert "privateKey" not in r.json() and r.json()["generated"] is False
    answer = await exchange(client, r.json()["keyId"], private, clock.now())
    assert answer.status_code == 200


def _pem(key: Any) -> str:
    return str(
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


BAD_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("empty-name", {"name": ""}),
    ("long-name", {"name": "x" * 256}),
    ("no-methods", {"methods": []}),
    ("unknown-method", {"methods": ["reviews.read", "root.everything"]}),
    ("apps-and-all", {"allApps": True, "appIds": ["x"]}),
    ("no-apps-given", {}),
    ("foreign-app", {"appIds": ["00000000-0000-0000-0000-000000000000"]}),
    ("methods-string", {"methods": "reviews.read"}),
    ("unknown-field", {"allApps": True, "owner": "me"}),
    ("garbage-pem", {"allApps": True, "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nAAAA\n"}),
    ("rsa-1024", {"allApps": True, "publicKeyPem": _pem(rsa.generate_private_key(65537, 1024))}),  # noqa: S505 - a weak key on purpose
    ("ec-key", {"allApps": True, "publicKeyPem": _pem(ec.generate_private_key(ec.SECP256R1()))}),
    (
        "private-pem",
        {
            "allApps": True,
            "publicKeyPem": rsa.generate_private_key(65537, 2048)
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode(),
        },
    ),
    ("too-many-apps", {"appIds": [f"app-{i}" for i in range(101)]}),
]


@pytest.mark.parametrize("body", [b for _, b in BAD_BODIES], ids=[n for n, _ in BAD_BODIES])
async def test_bad_create_bodies(
    client: httpx.AsyncClient, mailbox: Mailbox, body: dict[str, Any]
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "bad@example.com", apps=1)
    payload = {"name": "k", "methods": ["reviews.read"], **body}
    r = await client.post(KEYS.format(org=org), json=payload, headers=owner)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error", "message"}
    assert (await client.get(KEYS.format(org=org), headers=owner)).json()["items"] == []


async def test_another_orgs_app_is_refused_like_a_missing_one(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "a@example.com", apps=1)
    _, _, other_apps = await owner_with_org(client, mailbox, "b@example.com", apps=1)
    r = await create(client, owner, org, appIds=other_apps)
    missing = await create(client, owner, org, appIds=["nope"])
    assert r.status_code == missing.status_code == 400
    assert r.json() == missing.json()


@pytest.mark.parametrize("role", ["admin", "developer", "viewer"])
async def test_only_owners_manage_keys(
    client: httpx.AsyncClient, mailbox: Mailbox, role: str
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "boss@example.com")
    member = bearer(await signed_up(client, mailbox, "member@example.com"))
    await client.post(
        f"/v1/orgs/{org}/members", json={"email": "member@example.com", "role": role}, headers=owner
    )
    key_id = (await create(client, owner, org, appIds=apps)).json()["keyId"]
    base = KEYS.format(org=org)
    assert (await create(client, member, org, appIds=apps)).status_code == 403
    for method, path in [
        ("PATCH", f"{base}/{key_id}"),
        ("POST", f"{base}/{key_id}/rotate"),
        ("POST", f"{base}/{key_id}/disable"),
        ("POST", f"{base}/{key_id}/enable"),
        ("DELETE", f"{base}/{key_id}"),
    ]:
        body = {"name": "x"} if method == "PATCH" else None
        r = await client.request(method, path, json=body, headers=member)
        assert r.status_code == 403, (method, path)
    # Every member may see the table.
    assert len((await client.get(base, headers=member)).json()["items"]) == 1
    assert (await client.get(f"{base}/{key_id}", headers=member)).status_code == 200


async def test_strangers_see_nothing(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "mine@example.com")
    key_id = (await create(client, owner, org, appIds=apps)).json()["keyId"]
    stranger, other_org, _ = await owner_with_org(client, mailbox, "yours@example.com", apps=0)
    base = KEYS.format(org=org)
    for method, path in [
        ("GET", base),
        ("GET", f"{base}/{key_id}"),
        ("POST", f"{base}/{key_id}/disable"),
        ("DELETE", f"{base}/{key_id}"),
    ]:
        assert (await client.request(method, path, headers=stranger)).status_code == 404
    # Another org's id with this key id: not found either.
    r = await client.get(f"{KEYS.format(org=other_org)}/{key_id}", headers=stranger)
    assert r.status_code == 404


async def test_patch_and_lifecycle(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "life@example.com")
    base = KEYS.format(org=org)
    key_id = (await create(client, owner, org, appIds=[apps[0]])).json()["keyId"]
    renamed = await client.patch(f"{base}/{key_id}", json={"name": "Renamed"}, headers=owner)
    assert renamed.json()["name"] == "Renamed" and renamed.json()["apps"] == [apps[0]]
    scoped = await client.patch(
        f"{base}/{key_id}", json={"methods": ["reports.read"]}, headers=owner
    )
    assert scoped.json()["methods"] == ["reports.read"] and scoped.json()["apps"] == [apps[0]]
    widened = await client.patch(f"{base}/{key_id}", json={"allApps": True}, headers=owner)
    assert widened.json()["apps"] == sorted(apps)
    assert (await client.post(f"{base}/{key_id}/disable", headers=owner)).json()["status"] == (
        "disabled"
    )
    assert (await client.post(f"{base}/{key_id}/enable", headers=owner)).json()["status"] == (
        "active"
    )
    assert (await client.delete(f"{base}/{key_id}", headers=owner)).status_code == 204
    assert (await client.get(f"{base}/{key_id}", headers=owner)).status_code == 404


async def test_management_is_audited(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "audit@example.com")
    base = KEYS.format(org=org)
    created = (await create(client, owner, org, appIds=apps)).json()
    key_id = created["keyId"]
    await exchange(client, key_id, load_private(created["privateKey"]), clock.now())
    clock.advance(1)
    await exchange(client, key_id, load_private(created["privateKey"]), clock.now())
    rotated = (await client.post(f"{base}/{key_id}/rotate", headers=owner)).json()
    await exchange(client, key_id, load_private(rotated["privateKey"]), clock.now())
    await client.post(f"{base}/{key_id}/disable", headers=owner)
    await client.delete(f"{base}/{key_id}", headers=owner)
    events = (
        await client.get(f"/v1/orgs/{org}/audit", params={"limit": 50}, headers=owner)
    ).json()["items"]
    kinds = [e["kind"] for e in reversed(events) if e["kind"].startswith("service_key")]
    assert kinds == [
        "service_key.created",
        "service_key.first_used",
        "service_key.rotated",
        "service_key.first_used",
        "service_key.disabled",
        "service_key.deleted",
    ]
    assert all(e["targetId"] == key_id for e in events if e["kind"].startswith("service_key"))
