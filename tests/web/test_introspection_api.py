"""``POST /v1/introspect``: the RFC 7662 answers for every token kind, ``token_type_hint``,
the remote-mode extension fields, signing-key look-ups, and the form's limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from propusk.core import digital_sign
from propusk.core.principals import Principal
from propusk.services.audit import Origin
from propusk.wiring import Services
from tests.helpers import PASSWORD, bearer, login
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import exchange, load_private, owner_with_org
from tests.web.signing_key_helpers import KEYS as SIGNING_KEYS
from tests.web.signing_key_helpers import new_signing_key, public_pem

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def introspector(client: httpx.AsyncClient, services: Services) -> dict[str, str]:
    """An account holding only the introspect role (besides user), logged in."""
    await services.accounts.create_admin("rs@example.com", PASSWORD, Origin())
    account_id = await services.accounts.find_id_by_email("rs@example.com")
    await services.accounts.set_roles(None, account_id, ["introspect"], Origin())
    return bearer(await login(client, "rs@example.com"))


async def ask(
    client: httpx.AsyncClient, caller: dict[str, str], body: str | dict[str, str]
) -> httpx.Response:
    if isinstance(body, dict):
        return await client.post("/v1/introspect", data=body, headers=caller)
    return await client.post("/v1/introspect", content=body, headers={**caller, **FORM})


async def answer(client: httpx.AsyncClient, caller: dict[str, str], **form: str) -> dict[str, Any]:
    r = await ask(client, caller, form)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return dict(r.json())


def rebuilt(body: dict[str, Any]) -> Principal:
    """The Principal the extension fields describe (what a remote guard rebuilds)."""
    return Principal(
        subject=body["sub"],
        method=body["auth_method"],
        roles=frozenset(body["roles"]),
        kind=body["propusk_kind"],
        org_id=body["org"],
        methods=None if body["methods"] is None else frozenset(body["methods"]),
        apps=None if body["apps"] is None else frozenset(body["apps"]),
        token_id=body.get("jti"),
        expires_at=body.get("exp"),
    )


async def test_every_token_kind_is_described_field_by_field(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "kinds@example.com", apps=1)
    rs = await introspector(client, services)
    # A service-key token: the existing fields, and the extension.
    r = await client.post(
        f"/v1/orgs/{org}/service-keys",
        json={"name": "k", "methods": ["apps.read", "reviews.read"], "appIds": apps},
        headers=owner,
    )
    created = r.json()
    key = load_private(created["privateKey"])
    token = (await exchange(client, created["keyId"], key, clock.now())).json()["body"]["jwe"]
    body = await answer(client, rs, token=token, token_type_hint="service_token")
    assert body["token_use"] == body["auth_method"] == "service-key"
    assert body["client_id"] == body["sub"] == created["keyId"] and body["org"] == org
    assert body["scope"] == "apps.read reviews.read" and body["apps"] == apps
    assert body["methods"] == ["apps.read", "reviews.read"] and body["roles"] == []
    assert rebuilt(body) == await services.exchange.verify(token)
    # A managed API key (was {"active": false} before: the exchange could not read it).
    r = await client.post(
        f"/v1/orgs/{org}/api-keys",
        json={"name": "ak", "methods": ["reports.read"], "appIds": apps},
        headers=owner,
    )
    api_key = r.json()["key"]
    body = await answer(client, rs, token=api_key)
    assert body["active"] is True and body["auth_method"] == "api-key"
    assert body["propusk_kind"] == "api-key" and body["scope"] == "reports.read"
    assert "exp" not in body and "jti" not in body
    assert rebuilt(body) == await services.api_keys.verify(api_key)
    listed = (await client.get(f"/v1/orgs/{org}/api-keys", headers=owner)).json()["items"]
    assert listed[0]["lastUsedAt"] is not None  # introspection is a use of the key
    # An account token: roles, no scope of apps or methods.
    own = owner["Authorization"].removeprefix("Bearer ")
    body = await answer(client, rs, token=own, token_type_hint="access_token")
    assert body["auth_method"] == "bearer" and body["propusk_kind"] == "account"
    assert body["methods"] is None and body["apps"] is None and body["org"] is None
    assert body["roles"] == ["user"] and body["scope"] == "user"
    assert rebuilt(body) == await services.sessions.verify(own)


@pytest.mark.parametrize("hint", ["access_token", "api_key", "refresh_token", "nonsense", ""])
async def test_hints_never_change_the_answer(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services, hint: str
) -> None:
    owner, _, _ = await owner_with_org(client, mailbox, "hint@example.com", apps=0)
    rs = await introspector(client, services)
    own = owner["Authorization"].removeprefix("Bearer ")
    body = await answer(client, rs, token=own, token_type_hint=hint)
    assert body["active"] is True and body["auth_method"] == "bearer"
    assert await answer(client, rs, token="propusk_" + "x" * 81, token_type_hint=hint) == {
        "active": False
    }


async def test_signing_keys_by_id_login_and_terminal(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "sk@example.com", apps=1)
    rs = await introspector(client, services)
    created = await new_signing_key(
        client,
        owner,
        org,
        login="shop-1",
        terminalId="10001",
        password="terminal secret",
        allowedIps=["192.0.2.0/24"],
        replayWindow=60,
        appIds=apps,
    )
    key_id = created["keyId"]
    found = []
    for lookup, value in (("id", key_id), ("login", "shop-1"), ("terminal", "10001")):
        found.append(
            await answer(client, rs, token=value, token_type_hint="signing_key", lookup=lookup)
        )
    assert found[0] == found[1] == found[2]
    body = found[0]
    assert body == {
        "active": True,
        "key_id": key_id,
        "propusk_kind": "signing-key",
        "public_key": public_pem(),
        "algorithms": ["SHA256withRSA"],
        "replay_window": 60,
        "allowed_networks": ["192.0.2.0/24"],
        "org": org,
        "methods": ["payments.topup"],
        "apps": apps,
    }
    assert digital_sign.load_public_pem(body["public_key"])
    # Never the password or its hash, whatever the field might be called.
    text = str(body).lower()
    assert "argon2" not in text and "password" not in text and "terminal secret" not in text
    # The look-up counts as a use (the remote guard has nothing to report back).
    got = await client.get(f"{SIGNING_KEYS.format(org=org)}/{key_id}", headers=owner)
    assert got.json()["lastUsedAt"] is not None
    # Default lookup is the id; a disabled key, a deleted one, an unknown one: inactive.
    assert (await answer(client, rs, token=key_id, token_type_hint="signing_key"))["active"]
    r = await client.post(f"{SIGNING_KEYS.format(org=org)}/{key_id}/disable", headers=owner)
    assert r.status_code == 200
    for lookup, value in (("id", key_id), ("login", "shop-1"), ("login", "nobody")):
        assert await answer(
            client, rs, token=value, token_type_hint="signing_key", lookup=lookup
        ) == {"active": False}
    # Without the hint a key id is just a token that does not verify.
    assert await answer(client, rs, token=key_id) == {"active": False}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("token=a&token=b", 400),  # a repeated parameter (RFC 6749 3.1)
        ("token=a&token_type_hint=x&token_type_hint=y", 400),
        ("token=a&token_type_hint=signing_key&lookup=email", 400),
        ("token=a&token_type_hint=signing_key&lookup=id&lookup=login", 400),
        ("&".join(f"f{i}=1" for i in range(20)) + "&token=a", 400),  # too many fields
        ("token=" + "a" * 20_000, 413),
        ("token=%ff%fe", 200),
        ("token=", 400),
        ("lookup=id", 400),
    ],
)
async def test_malformed_forms_are_4xx_in_the_envelope(
    client: httpx.AsyncClient, services: Services, body: str, status: int
) -> None:
    rs = await introspector(client, services)
    r = await ask(client, rs, body)
    assert r.status_code == status, r.text
    if status != 200:
        assert set(r.json()) == {"error", "message"}
    else:
        assert r.json() == {"active": False}


@pytest.mark.parametrize(
    "token",
    ["a" * 10_001, "propusk_\x00", "x.y\x00.z", "k\x7f", "a.b.c.d.e" * 1000],
)
@pytest.mark.parametrize("hint", ["", "signing_key"])
async def test_hostile_tokens_are_simply_inactive(
    client: httpx.AsyncClient, services: Services, token: str, hint: str
) -> None:
    rs = await introspector(client, services)
    for lookup in ("id", "login", "terminal"):
        form = {"token": token, "token_type_hint": hint, "lookup": lookup}
        assert await answer(client, rs, **form) == {"active": False}


async def test_signing_key_look_ups_need_the_role_too(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "skrole@example.com", apps=0)
    # The owner is an ordinary account: it may manage its keys, not look them up here.
    key_id = (await new_signing_key(client, owner, org, appIds=[]))["keyId"]
    form = {"token": key_id, "token_type_hint": "signing_key"}
    assert (await ask(client, owner, form)).status_code == 403
    assert (await ask(client, {}, form)).status_code == 401
