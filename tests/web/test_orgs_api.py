"""Organizations, members, apps and audit: tenant isolation and the role-by-action table."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import bearer, signed_up
from tests.support import Mailbox

Headers = dict[str, str]


async def make_org(client: httpx.AsyncClient, owner: Headers, kind: str = "company") -> str:
    r = await client.post("/v1/orgs", json={"name": "Acme", "kind": kind}, headers=owner)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "owner"
    return str(r.json()["id"])


async def user(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> Headers:
    return bearer(await signed_up(client, mailbox, email))


async def test_create_and_list(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner = await user(client, mailbox, "o@example.com")
    org_id = await make_org(client, owner)
    listed = (await client.get("/v1/orgs", headers=owner)).json()["items"]
    assert [o["id"] for o in listed] == [org_id]
    assert listed[0]["kind"] == "company"
    other = await user(client, mailbox, "x@example.com")
    assert (await client.get("/v1/orgs", headers=other)).json()["items"] == []


async def test_individual_org_has_one_member(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner = await user(client, mailbox, "solo@example.com")
    await user(client, mailbox, "friend@example.com")
    org_id = await make_org(client, owner, kind="individual")
    r = await client.post(
        f"/v1/orgs/{org_id}/members",
        json={"email": "friend@example.com", "role": "viewer"},
        headers=owner,
    )
    assert r.status_code == 409


async def test_apps_crud(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner = await user(client, mailbox, "apps@example.com")
    org_id = await make_org(client, owner)
    r = await client.post(f"/v1/orgs/{org_id}/apps", json={"name": "Game"}, headers=owner)
    assert r.status_code == 201
    app = r.json()
    assert set(app) == {"id", "name", "createdAt", "updatedAt"}
    dup = await client.post(f"/v1/orgs/{org_id}/apps", json={"name": "Game"}, headers=owner)
    assert dup.status_code == 409
    got = await client.get(f"/v1/orgs/{org_id}/apps/{app['id']}", headers=owner)
    assert got.json()["name"] == "Game"
    renamed = await client.patch(
        f"/v1/orgs/{org_id}/apps/{app['id']}", json={"name": "Game 2"}, headers=owner
    )
    assert renamed.json()["name"] == "Game 2"
    listed = (await client.get(f"/v1/orgs/{org_id}/apps", headers=owner)).json()["items"]
    assert [a["name"] for a in listed] == ["Game 2"]
    deleted = await client.delete(f"/v1/orgs/{org_id}/apps/{app['id']}", headers=owner)
    assert deleted.status_code == 204
    gone = await client.get(f"/v1/orgs/{org_id}/apps/{app['id']}", headers=owner)
    assert gone.status_code == 404


async def test_members_and_the_last_owner(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner = await user(client, mailbox, "boss@example.com")
    await user(client, mailbox, "second@example.com")
    org_id = await make_org(client, owner)
    added = await client.post(
        f"/v1/orgs/{org_id}/members",
        json={"email": "second@example.com", "role": "developer"},
        headers=owner,
    )
    assert added.status_code == 201
    second_id = added.json()["accountId"]
    again = await client.post(
        f"/v1/orgs/{org_id}/members",
        json={"email": "second@example.com", "role": "viewer"},
        headers=owner,
    )
    assert again.status_code == 409
    nobody = await client.post(
        f"/v1/orgs/{org_id}/members",
        json={"email": "ghost@example.com", "role": "viewer"},
        headers=owner,
    )
    assert nobody.status_code == 404
    bad_role = await client.post(
        f"/v1/orgs/{org_id}/members",
        json={"email": "second@example.com", "role": "god"},
        headers=owner,
    )
    assert bad_role.status_code == 400
    members = (await client.get(f"/v1/orgs/{org_id}/members", headers=owner)).json()["items"]
    owner_id = next(m["accountId"] for m in members if m["role"] == "owner")
    # The last owner can neither be demoted nor removed.
    demote = await client.patch(
        f"/v1/orgs/{org_id}/members/{owner_id}", json={"role": "admin"}, headers=owner
    )
    assert demote.status_code == 409
    remove = await client.delete(f"/v1/orgs/{org_id}/members/{owner_id}", headers=owner)
    assert remove.status_code == 409
    # With a second owner, the first may step down.
    promote = await client.patch(
        f"/v1/orgs/{org_id}/members/{second_id}", json={"role": "owner"}, headers=owner
    )
    assert promote.json()["role"] == "owner"
    step_down = await client.patch(
        f"/v1/orgs/{org_id}/members/{owner_id}", json={"role": "viewer"}, headers=owner
    )
    assert step_down.status_code == 200


async def test_admins_do_not_manage_owners(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner = await user(client, mailbox, "own@example.com")
    admin = await user(client, mailbox, "adm@example.com")
    await user(client, mailbox, "new@example.com")
    org_id = await make_org(client, owner)
    await client.post(
        f"/v1/orgs/{org_id}/members",
        json={"email": "adm@example.com", "role": "admin"},
        headers=owner,
    )
    members = (await client.get(f"/v1/orgs/{org_id}/members", headers=owner)).json()["items"]
    owner_id = next(m["accountId"] for m in members if m["role"] == "owner")
    admin_id = next(m["accountId"] for m in members if m["role"] == "admin")
    for call in (
        client.post(
            f"/v1/orgs/{org_id}/members",
            json={"email": "new@example.com", "role": "owner"},
            headers=admin,
        ),
        client.patch(
            f"/v1/orgs/{org_id}/members/{admin_id}", json={"role": "owner"}, headers=admin
        ),
        client.patch(
            f"/v1/orgs/{org_id}/members/{owner_id}", json={"role": "viewer"}, headers=admin
        ),
        client.delete(f"/v1/orgs/{org_id}/members/{owner_id}", headers=admin),
    ):
        assert (await call).status_code == 403
    ok = await client.post(
        f"/v1/orgs/{org_id}/members",
        json={"email": "new@example.com", "role": "developer"},
        headers=admin,
    )
    assert ok.status_code == 201


# role -> action -> expected status
ROLE_TABLE: dict[str, dict[str, int]] = {
    "owner": {
        "get_org": 200,
        "list_members": 200,
        "add_member": 201,
        "change_member": 200,
        "remove_member": 204,
        "create_app": 201,
        "rename_app": 200,
        "delete_app": 204,
        "read_audit": 200,
        "list_apps": 200,
    },
    "admin": {
        "get_org": 200,
        "list_members": 200,
        "add_member": 201,
        "change_member": 200,
        "remove_member": 204,
        "create_app": 201,
        "rename_app": 200,
        "delete_app": 204,
        "read_audit": 200,
        "list_apps": 200,
    },
    "developer": {
        "get_org": 200,
        "list_members": 200,
        "add_member": 403,
        "change_member": 403,
        "remove_member": 403,
        "create_app": 201,
        "rename_app": 200,
        "delete_app": 403,
        "read_audit": 403,
        "list_apps": 200,
    },
    "viewer": {
        "get_org": 200,
        "list_members": 200,
        "add_member": 403,
        "change_member": 403,
        "remove_member": 403,
        "create_app": 403,
        "rename_app": 403,
        "delete_app": 403,
        "read_audit": 403,
        "list_apps": 200,
    },
    # Not a member: the organization does not exist as far as the caller can tell.
    "stranger": {
        "get_org": 404,
        "list_members": 404,
        "add_member": 404,
        "change_member": 404,
        "remove_member": 404,
        "create_app": 404,
        "rename_app": 404,
        "delete_app": 404,
        "read_audit": 404,
        "list_apps": 404,
    },
}


def _cases() -> list[tuple[str, str, int]]:
    return [
        (role, action, status) for role, row in ROLE_TABLE.items() for action, status in row.items()
    ]


@pytest.mark.parametrize(("role", "action", "expected"), _cases())
async def test_role_action_table(
    client: httpx.AsyncClient, mailbox: Mailbox, role: str, action: str, expected: int
) -> None:
    owner = await user(client, mailbox, "owner@example.com")
    caller = await user(client, mailbox, "caller@example.com")
    await user(client, mailbox, "target@example.com")
    await user(client, mailbox, "extra@example.com")
    org_id = await make_org(client, owner)
    if role != "stranger":
        if role == "owner":
            caller = owner
        else:
            r = await client.post(
                f"/v1/orgs/{org_id}/members",
                json={"email": "caller@example.com", "role": role},
                headers=owner,
            )
            assert r.status_code == 201
    target = await client.post(
        f"/v1/orgs/{org_id}/members",
        json={"email": "target@example.com", "role": "viewer"},
        headers=owner,
    )
    target_id = target.json()["accountId"]
    app_id = (
        await client.post(f"/v1/orgs/{org_id}/apps", json={"name": "A"}, headers=owner)
    ).json()["id"]
    base = f"/v1/orgs/{org_id}"
    calls: dict[str, tuple[str, str, Any]] = {
        "get_org": ("GET", base, None),
        "list_members": ("GET", f"{base}/members", None),
        "add_member": (
            "POST",
            f"{base}/members",
            {"email": "extra@example.com", "role": "developer"},
        ),
        "change_member": ("PATCH", f"{base}/members/{target_id}", {"role": "developer"}),
        "remove_member": ("DELETE", f"{base}/members/{target_id}", None),
        "create_app": ("POST", f"{base}/apps", {"name": "B"}),
        "list_apps": ("GET", f"{base}/apps", None),
        "rename_app": ("PATCH", f"{base}/apps/{app_id}", {"name": "C"}),
        "delete_app": ("DELETE", f"{base}/apps/{app_id}", None),
        "read_audit": ("GET", f"{base}/audit", None),
    }
    method, path, body = calls[action]
    r = await client.request(method, path, json=body, headers=caller)
    assert r.status_code == expected, r.text
    if expected >= 400:
        assert set(r.json()) == {"error", "message"}


async def test_tenant_isolation(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    """A member of org A gets 404 for every resource of org B, as for an unknown id."""
    alice = await user(client, mailbox, "alice@example.com")
    bob = await user(client, mailbox, "bob@example.com")
    org_a = await make_org(client, alice)
    org_b = await make_org(client, bob)
    app_b = (await client.post(f"/v1/orgs/{org_b}/apps", json={"name": "B"}, headers=bob)).json()
    app_a = (await client.post(f"/v1/orgs/{org_a}/apps", json={"name": "A"}, headers=alice)).json()
    paths = [
        ("GET", f"/v1/orgs/{org_b}"),
        ("GET", f"/v1/orgs/{org_b}/members"),
        ("GET", f"/v1/orgs/{org_b}/apps"),
        ("GET", f"/v1/orgs/{org_b}/apps/{app_b['id']}"),
        ("PATCH", f"/v1/orgs/{org_b}/apps/{app_b['id']}"),
        ("DELETE", f"/v1/orgs/{org_b}/apps/{app_b['id']}"),
        ("GET", f"/v1/orgs/{org_b}/audit"),
        # org A's id with org B's app: still not found
        ("GET", f"/v1/orgs/{org_a}/apps/{app_b['id']}"),
        ("DELETE", f"/v1/orgs/{org_a}/apps/{app_b['id']}"),
        ("GET", "/v1/orgs/00000000-0000-0000-0000-000000000000"),
    ]
    answers = []
    for method, path in paths:
        body = {"name": "x"} if method == "PATCH" else None
        r = await client.request(method, path, json=body, headers=alice)
        assert r.status_code == 404, (method, path, r.text)
        answers.append(r.json())
    still = await client.get(f"/v1/orgs/{org_b}/apps/{app_b['id']}", headers=bob)
    assert still.status_code == 200 and still.json()["name"] == "B"
    assert app_a["id"] != app_b["id"]


async def test_audit_paging_and_filters(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner = await user(client, mailbox, "auditor@example.com")
    org_id = await make_org(client, owner)
    for i in range(5):
        await client.post(f"/v1/orgs/{org_id}/apps", json={"name": f"app{i}"}, headers=owner)
    page1 = (
        await client.get(f"/v1/orgs/{org_id}/audit", params={"limit": 4}, headers=owner)
    ).json()
    assert len(page1["items"]) == 4 and page1["next"]
    page2 = (
        await client.get(
            f"/v1/orgs/{org_id}/audit", params={"limit": 4, "cursor": page1["next"]}, headers=owner
        )
    ).json()
    assert len(page2["items"]) == 2 and page2["next"] is None
    # A last page that is exactly full has no next page either.
    exact = (
        await client.get(f"/v1/orgs/{org_id}/audit", params={"limit": 6}, headers=owner)
    ).json()
    assert len(exact["items"]) == 6 and exact["next"] is None
    kinds = [e["kind"] for e in page1["items"] + page2["items"]]
    assert kinds == ["app.created"] * 5 + ["org.created"]
    only = (
        await client.get(f"/v1/orgs/{org_id}/audit", params={"kind": "org.created"}, headers=owner)
    ).json()["items"]
    assert [e["kind"] for e in only] == ["org.created"]
    future = (
        await client.get(
            f"/v1/orgs/{org_id}/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=owner
        )
    ).json()
    assert future["items"] == []
    naive = await client.get(
        f"/v1/orgs/{org_id}/audit", params={"since": "2020-01-01T00:00:00"}, headers=owner
    )
    assert naive.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "x"},
        {"name": "", "kind": "company"},
        {"name": "x", "kind": "team"},
        {"name": "x" * 256, "kind": "company"},
        {"name": 5, "kind": "company"},
        {"name": "x", "kind": "company", "owner": "me"},
    ],
)
async def test_bad_org_bodies(
    client: httpx.AsyncClient, mailbox: Mailbox, body: dict[str, Any]
) -> None:
    owner = await user(client, mailbox, "bad@example.com")
    r = await client.post("/v1/orgs", json=body, headers=owner)
    assert r.status_code == 400
    assert (await client.get("/v1/orgs", headers=owner)).json()["items"] == []
