"""The Waves node catalog shipped with Propusk (``propusk/demo/waves_node.toml``): it loads,
its roles are the node's, and a node's routes refuse as a node does, from all three entry
points, with Bearer tokens (OAuth2 mode) and with node-style X-API-Key hashes (API-key
mode)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from propusk.core.catalog import load_catalog
from propusk.core.hashes import base58_encode, secure_hash
from propusk.demo import WAVES_NODE_CATALOG
from propusk.demo.waves_node import create_stand_in_node
from propusk.guard import PropuskGuard
from propusk.guard.waves_node import NoRequiredAuthRole, route_role
from propusk.wiring import Services
from tests.guard.dialect_support import (
    CLIENT_IP,
    ENTRIES,
    Call,
    Entries,
    Entry,
    Kit,
    W,
    check,
    tampered,
)
from tests.support import Mailbox, ManualClock

USER_METHODS = {
    "transactions.calculate-fee",
    "transactions.broadcast",
    "transactions.sign",
    "transactions.read",
    "node.read",
    "contracts.read",
    "privacy.policies",
}
ROLE_METHODS = {
    "privacy": {"privacy.send", "privacy.read", "privacy.sync"},
    "confidential_contracts": {"confidential-contracts.call", "confidential-contracts.read"},
    "admin": {"node.admin"},
}

# (route, the role it needs, how the node names that role in its 621)
NODE_ROUTES = [
    ("/transactions/calculateFee", "user", "User"),
    ("/privacy/sendData", "privacy", "PrivacyUser"),
    ("/confidential-contracts/call", "confidential_contracts", "ConfidentialContractsUser"),
    ("/node/stop", "admin", "Administrator"),
]
# A role each route does not accept (for the user route: none of the node's roles at all).
NOT_ENOUGH = {
    "user": ("introspect",),
    "privacy": ("admin",),
    "confidential_contracts": ("privacy",),
    "admin": ("user",),
}


# -- the catalog itself ---------------------------------------------------------------------


def test_the_catalog_ships_in_the_package_and_loads() -> None:
    shipped = resources.files("propusk.demo").joinpath("waves_node.toml")
    assert shipped.is_file()
    catalog = load_catalog(WAVES_NODE_CATALOG)
    assert {m.dialect for m in catalog.methods.values()} == {"waves"}
    public = {str(r) for r in catalog.public}
    assert {"GET /node/status", "GET /node/version"} <= public
    for verb, path, method in [
        ("POST", "/transactions/calculateFee", "transactions.calculate-fee"),
        ("POST", "/transactions/broadcast", "transactions.broadcast"),
        ("GET", "/transactions/info/5Bx", "transactions.read"),
        ("POST", "/privacy/sendData", "privacy.send"),
        ("GET", "/privacy/p1/getData/h1", "privacy.read"),
        ("GET", "/privacy/p1/recipients", "privacy.policies"),
        ("POST", "/confidential-contracts/call", "confidential-contracts.call"),
        ("GET", "/contracts/c1/key", "contracts.read"),
        ("POST", "/node/stop", "node.admin"),
    ]:
        found = catalog.match(verb, path)
        assert found is not None and found.method is not None, (verb, path)
        assert found.method.name == method


def test_roles_are_the_nodes() -> None:
    catalog = load_catalog(WAVES_NODE_CATALOG)
    # An endpoint needing "user" accepts any known role: every role holds the user methods.
    for role in ("user", *ROLE_METHODS):
        assert catalog.roles[role] >= USER_METHODS, role
    assert catalog.roles["user"] == USER_METHODS
    # The others need exactly their role: admin does not reach privacy routes, and so on.
    for role, methods in ROLE_METHODS.items():
        assert catalog.roles[role] == USER_METHODS | methods
    assert set(catalog.methods) == USER_METHODS.union(*ROLE_METHODS.values())
    for name in catalog.methods:
        expected = next((r for r, m in ROLE_METHODS.items() if name in m), "user")
        assert route_role(catalog, name) == expected, name


def test_621_names_the_role_as_the_node_does() -> None:
    # The node interpolates its AuthRole case object: its Scala name, then a space.
    assert NoRequiredAuthRole("admin").message == (
        "Authorization error. No expected role 'Administrator' "
    )
    # A provider's own role has no Scala name: it is written as it is.
    assert NoRequiredAuthRole("release_manager").message.endswith("'release_manager' ")


async def test_the_stand_in_node_answers_behind_the_guard(
    kit: Kit, services: Services, clock: ManualClock
) -> None:
    guarded = PropuskGuard(create_stand_in_node(), gate=services.gate)
    transport = httpx.ASGITransport(app=guarded, client=(CLIENT_IP, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as node:
        assert (await node.get("/node/status")).json()["blockchainHeight"] == 1
        token = await kit.user_token()
        fee = await node.post(
            "/transactions/calculateFee", json={}, headers={"Authorization": f"Bearer {token}"}
        )
        assert fee.status_code == 200 and fee.json() == {"feeAssetId": None, "feeAmount": 1000000}
        r = await node.post("/transactions/calculateFee", json={})
        check(r, W(401, 618, "Authorization error. Missing authorization metadata"), clock.now())


# -- OAuth2 mode: Bearer tokens ---------------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"method_catalog": WAVES_NODE_CATALOG, "forward_auth_clients": ["203.0.113.0/24"]}


@pytest.fixture
def entries(client: httpx.AsyncClient, app: FastAPI, services: Services) -> Entries:
    return Entries(client, app, services)


@pytest.fixture
def kit(client: httpx.AsyncClient, mailbox: Mailbox, services: Services, clock: ManualClock) -> Kit:
    return Kit(client, mailbox, services, clock)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize(("path", "role", "node_name"), NODE_ROUTES)
async def test_node_routes_refuse_as_the_node(
    entry: Entry,
    path: str,
    role: str,
    node_name: str,
    entries: Entries,
    kit: Kit,
    services: Services,
    clock: ManualClock,
) -> None:
    def call(token: str | None) -> Call:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return Call("POST", path, headers, b"{}")

    right = await (kit.user_token() if role == "user" else kit.token_with_roles(role))
    assert (await entries.send(entry, call(right))).status_code == 200
    # A token whose roles do not include the route's: the node's 621 names the role.
    lacking = NOT_ENOUGH[role]
    wrong = await kit.minted(roles=list(lacking)) if role == "user" else None
    wrong = wrong or await kit.token_with_roles(*lacking)
    no_role = f"Authorization error. No expected role '{node_name}' "
    check(await entries.send(entry, call(wrong)), W(403, 621, no_role), clock.now())
    invalid = W(401, 622, "Authorization error. Invalid token")
    check(await entries.send(entry, call(tampered(right, 2))), invalid, clock.now())
    # Signed by the server's key, claims of the wrong shape: 620, a 400 from a node; a
    # proxy is told 403 (it understands nothing else), with the same body.
    claims = W(
        403 if entry == "forward-auth" else 400,
        620,
        "Authorization error. Can't parse JWT token claims",
    )
    bad = await kit.minted(roles=[role], addresses="node-owner")
    check(await entries.send(entry, call(bad)), claims, clock.now())
    missing = W(401, 618, "Authorization error. Missing authorization metadata")
    check(await entries.send(entry, call(None)), missing, clock.now())
    # Basic credentials are not a Bearer token: the node says 618 for them too.
    basic = Call("POST", path, {"Authorization": "Basic dXNlcjpwYXNz"}, b"{}")
    check(await entries.send(entry, basic), missing, clock.now())
    clock.advance(services.settings.access_token_ttl + 1)
    expired = W(401, 619, "Authorization error. Token expired")
    check(await entries.send(entry, call(right)), expired, clock.now())


@pytest.mark.parametrize("entry", ENTRIES)
async def test_public_node_routes_need_nothing(entry: Entry, entries: Entries) -> None:
    for path in ("/node/status", "/node/version"):
        assert (await entries.send(entry, Call("GET", path))).status_code == 200


# -- API-key mode: node-style X-API-Key hashes --------------------------------------------------

KEYS = {
    "admin": "admin key of the node",
    "privacy": "privacy key of the node",
    "confidential_contracts": "confidential contracts key of the node",
}
# (route, the key that opens it, the node's error for a missing or wrong key)
KEY_ROUTES = [
    ("/node/stop", "admin", 2, "Provided API key is not correct"),
    ("/privacy/sendData", "privacy", 614, "Provided privacy API key is not correct"),
    (
        "/confidential-contracts/call",
        "confidential_contracts",
        649,
        "Provided ConfidentialContracts API key is not correct",
    ),
    # A node leaves its user routes open in API-key mode; Propusk does not, and answers as
    # the admin key would. Every role's key holds the user methods.
    ("/transactions/calculateFee", "privacy", 2, "Provided API key is not correct"),
]


class TestApiKeyMode:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        hashes = {
            f"{r}_api_key_hash": base58_encode(secure_hash(k.encode())) for r, k in KEYS.items()
        }
        return {
            "method_catalog": WAVES_NODE_CATALOG,
            "forward_auth_clients": ["203.0.113.0/24"],
            "api_key_hash": hashes.pop("admin_api_key_hash"),
            **hashes,
            "waves_errors": True,
        }

    @pytest.mark.parametrize("entry", ENTRIES)
    @pytest.mark.parametrize(("path", "role", "waves_id", "message"), KEY_ROUTES)
    async def test_keys(
        self,
        entry: Entry,
        path: str,
        role: str,
        waves_id: int,
        message: str,
        entries: Entries,
        clock: ManualClock,
    ) -> None:
        def call(key: str | None) -> Call:
            return Call("POST", path, {"X-API-Key": key} if key is not None else {}, b"{}")

        assert (await entries.send(entry, call(KEYS[role]))).status_code == 200
        refused = W(403, waves_id, message)
        for key in (None, "wrong", ""):
            check(await entries.send(entry, call(key)), refused, clock.now())
        others = [k for r, k in KEYS.items() if r != role]
        if path != "/transactions/calculateFee":  # the user route takes any role's key
            for key in others:
                check(await entries.send(entry, call(key)), refused, clock.now())
