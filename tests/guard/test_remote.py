"""``RemoteIntrospection`` against the real Propusk app (over ASGI): the Principal it
rebuilds is the server's own, the positive cache ends at the revocation delay and at
``exp``, the negative cache is bounded apart, failures are 503 and never cached, hostile
answers are refused, and no credential is ever a cache key."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from propusk.client import PasswordAuth
from propusk.core import digital_sign
from propusk.core.errors import InvalidToken, PropuskError, TokenExpired
from propusk.guard.ports import TokenVerifier
from propusk.guard.remote import IntrospectionUnavailable, RemoteIntrospection
from propusk.wiring import Services
from tests.guard.remote_support import Clocks, Credentials, Switch, credentials, make_remote
from tests.support import Mailbox, ManualClock
from tests.web.signing_key_helpers import KEYS as SIGNING_KEYS
from tests.web.signing_key_helpers import public_pem

Http = tuple[httpx.AsyncClient, Switch]


@pytest.fixture
async def creds(client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock) -> Credentials:
    return await credentials(client, mailbox, clock, "remote@example.com")


@pytest.fixture
def remote(switch: Http, introspector: PasswordAuth, clocks: Clocks) -> RemoteIntrospection:
    return make_remote(switch[0], introspector, clocks, revocation_delay=1.0, negative_ttl=5.0)


def cache_keys(remote: RemoteIntrospection) -> list[str]:
    return remote._principals.keys() + remote._partners.keys() + remote._negative.keys()


async def test_the_principal_is_the_servers_own(
    remote: RemoteIntrospection, creds: Credentials, services: Services
) -> None:
    pairs: list[tuple[TokenVerifier, str, TokenVerifier]] = [
        (remote.public_tokens, creds.public_token, services.exchange),
        (remote.api_keys, creds.api_key, services.api_keys),
        (remote.access_tokens, creds.access_token, services.sessions),
    ]
    for verifier, token, server in pairs:
        assert await verifier.verify(token) == await server.verify(token)


async def test_positive_answers_live_for_the_revocation_delay(
    remote: RemoteIntrospection,
    creds: Credentials,
    switch: Http,
    clocks: Clocks,
    client: httpx.AsyncClient,
) -> None:
    _, counter = switch
    for _ in range(3):
        await remote.api_keys.verify(creds.api_key)
    assert counter.asked == 1
    r = await client.post(
        f"/v1/orgs/{creds.org}/api-keys/{creds.api_key_id}/revoke", headers=creds.owner
    )
    assert r.status_code == 200, r.text
    clocks.advance(0.9)  # within the delay: the answer given a moment ago still stands
    await remote.api_keys.verify(creds.api_key)
    assert counter.asked == 1
    clocks.advance(0.1)  # the delay is over: asked again, and now refused
    with pytest.raises(InvalidToken):
        await remote.api_keys.verify(creds.api_key)
    assert counter.asked == 2


async def test_positive_answers_never_outlive_exp(
    switch: Http, introspector: PasswordAuth, clocks: Clocks, creds: Credentials
) -> None:
    http, counter = switch
    remote = make_remote(http, introspector, clocks, revocation_delay=86_400.0)
    principal = await remote.public_tokens.verify(creds.public_token)
    assert principal.expires_at is not None
    left = principal.expires_at - clocks.wall()
    clocks.advance(left - 1)
    await remote.public_tokens.verify(creds.public_token)
    assert counter.asked == 1  # the day-long delay did not matter; exp bounds the entry
    clocks.advance(1)
    with pytest.raises(InvalidToken):
        await remote.public_tokens.verify(creds.public_token)
    # Asked again (twice: the introspector's own 15-minute token had expired as well, so
    # its PasswordAuth refreshed it and retried).
    assert counter.asked == 3


async def test_a_token_past_exp_by_our_clock_is_expired(
    switch: Http, introspector: PasswordAuth, clocks: Clocks, creds: Credentials
) -> None:
    http, _ = switch
    # This guard's wall clock runs 20 minutes ahead of the server's.
    remote = RemoteIntrospection(
        "http://testserver/v1/introspect",
        auth=introspector,
        client=http,
        clock=clocks.monotonic,
        wall_clock=lambda: clocks.wall() + 1200,
    )
    with pytest.raises(TokenExpired):
        await remote.access_tokens.verify(creds.access_token)


async def test_a_credential_is_taken_only_in_its_own_header(
    remote: RemoteIntrospection, creds: Credentials, switch: Http
) -> None:
    _, counter = switch
    for verifier, token in [
        (remote.public_tokens, creds.access_token),
        (remote.public_tokens, creds.api_key),
        (remote.api_keys, creds.public_token),
        (remote.access_tokens, creds.api_key),
    ]:
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
    asked = counter.asked
    with pytest.raises(InvalidToken):
        await remote.public_tokens.verify(creds.access_token)
    assert counter.asked == asked  # that refusal is final: cached as a negative answer


async def test_negative_answers_are_cached_and_bounded_apart(
    switch: Http, introspector: PasswordAuth, clocks: Clocks, creds: Credentials
) -> None:
    http, counter = switch
    remote = make_remote(
        http,
        introspector,
        clocks,
        revocation_delay=60.0,
        negative_ttl=5.0,
        max_negative_entries=3,
    )
    await remote.public_tokens.verify(creds.public_token)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await remote.public_tokens.verify("garbage")
    assert counter.asked == 2
    clocks.advance(5)
    with pytest.raises(InvalidToken):
        await remote.public_tokens.verify("garbage")
    assert counter.asked == 3
    # A flood of garbage: the negative cache stays at its bound, the good entry stays.
    clocks.advance(0.5)
    asked = counter.asked
    for i in range(20):
        with pytest.raises(InvalidToken):
            await remote.api_keys.verify(f"propusk_{i:016d}_{'0' * 64}")
    assert counter.asked == asked + 20
    assert len(remote._negative) == 3
    await remote.public_tokens.verify(creds.public_token)
    assert counter.asked == asked + 20


async def test_the_positive_cache_is_bounded(
    switch: Http, introspector: PasswordAuth, clocks: Clocks, creds: Credentials
) -> None:
    http, counter = switch
    remote = make_remote(http, introspector, clocks, revocation_delay=60.0, max_entries=2)
    await remote.public_tokens.verify(creds.public_token)
    await remote.api_keys.verify(creds.api_key)
    await remote.access_tokens.verify(creds.access_token)
    assert len(remote._principals) == 2 and counter.asked == 3
    await remote.public_tokens.verify(creds.public_token)  # the oldest was dropped
    assert counter.asked == 4


async def test_concurrent_misses_share_one_request(
    remote: RemoteIntrospection, creds: Credentials, switch: Http
) -> None:
    _, counter = switch
    results = await asyncio.gather(*(remote.api_keys.verify(creds.api_key) for _ in range(8)))
    assert len(set(results)) == 1 and counter.asked == 1
    failures = await asyncio.gather(
        *(remote.public_tokens.verify("nope") for _ in range(8)), return_exceptions=True
    )
    assert all(isinstance(f, InvalidToken) for f in failures) and counter.asked == 2


async def test_an_unreachable_server_is_503_and_not_cached(
    remote: RemoteIntrospection, creds: Credentials, switch: Http
) -> None:
    _, counter = switch
    counter.down = True
    for token in (creds.api_key, "garbage"):
        with pytest.raises(IntrospectionUnavailable) as caught:
            await remote.api_keys.verify(token)
        assert caught.value.status == 503 and caught.value.code == "auth_unavailable"
    assert cache_keys(remote) == []
    counter.down = False
    assert (await remote.api_keys.verify(creds.api_key)).subject == creds.api_key_id


def _json(data: object, status: int = 200) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(status, content=json.dumps(data).encode())


ACTIVE: dict[str, Any] = {
    "active": True,
    "sub": "k1",
    "token_use": "api-key",
    "auth_method": "api-key",
    "propusk_kind": "api-key",
    "roles": [],
    "org": "o1",
    "methods": ["reports.read"],
    "apps": [],
}
HOSTILE: dict[str, Callable[[], httpx.Response]] = {
    "5xx": _json({"error": "internal_error", "message": "Internal error"}, 500),
    "redirect": lambda: httpx.Response(302, headers={"location": "http://evil.test/"}),
    "not allowed": _json({"error": "forbidden", "message": "Not allowed"}, 403),
    "not json": lambda: httpx.Response(200, content=b"<html>proxy error</html>"),
    "oversized": lambda: httpx.Response(200, content=b'{"active":false' + b" " * 300_000 + b"}"),
    "a list": _json([{"active": True}]),
    "active as text": _json({"active": "true"}),
    "no active": _json({"sub": "k1"}),
    "active, nothing else": _json({"active": True}),
    "sub not a string": _json({**ACTIVE, "sub": 5}),
    "sub huge": _json({**ACTIVE, "sub": "k" * 10_000}),
    "methods a string": _json({**ACTIVE, "methods": "reports.read"}),
    "methods of numbers": _json({**ACTIVE, "methods": [1, 2]}),
    "too many apps": _json({**ACTIVE, "apps": [f"a{i}" for i in range(10_001)]}),
    "exp a bool": _json({**ACTIVE, "exp": True}),
    "exp a float": _json({**ACTIVE, "exp": 1e30}),
    "unknown method": _json({**ACTIVE, "auth_method": "magic"}),
    "bad cnf": _json({**ACTIVE, "cnf": {"x5t#S256": "short"}}),
    "deep nesting": lambda: httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000),
}


@pytest.mark.parametrize("answer", list(HOSTILE), ids=list(HOSTILE))
async def test_hostile_answers_are_503_and_not_cached(
    remote: RemoteIntrospection, creds: Credentials, switch: Http, answer: str
) -> None:
    _, counter = switch
    counter.forced = HOSTILE[answer]
    with pytest.raises(IntrospectionUnavailable):
        await remote.api_keys.verify(creds.api_key)
    assert cache_keys(remote) == []
    counter.forced = None
    assert (await remote.api_keys.verify(creds.api_key)).subject == creds.api_key_id


async def test_the_introspection_credential_is_refreshed_and_a_wrong_one_is_503(
    remote: RemoteIntrospection, creds: Credentials, switch: Http, clocks: Clocks
) -> None:
    http, _ = switch
    await remote.api_keys.verify(creds.api_key)
    clocks.advance(901)  # the introspector's own access token has expired on the server
    await remote.api_keys.verify(creds.api_key)  # PasswordAuth refreshed it and retried
    wrong = make_remote(http, PasswordAuth("http://testserver", "rs@example.com", "nope"), clocks)
    with pytest.raises(IntrospectionUnavailable):
        await wrong.api_keys.verify(creds.api_key)
    unauthenticated = make_remote(http, httpx.Auth(), clocks)  # no credential at all
    with pytest.raises(IntrospectionUnavailable):
        await unauthenticated.api_keys.verify(creds.api_key)


async def test_credentials_are_never_cache_keys(
    remote: RemoteIntrospection, creds: Credentials, switch: Http
) -> None:
    secrets = [creds.public_token, creds.api_key, creds.access_token, "garbage-credential"]
    for token in secrets:
        for verifier in (remote.public_tokens, remote.api_keys, remote.access_tokens):
            with contextlib.suppress(PropuskError):
                await verifier.verify(token)
    await remote.partners.partner_by_login("shop-1")
    keys = cache_keys(remote)
    assert len(keys) == 4 * 3 + 1
    for key in keys:
        assert len(key) == 32 and int(key, 16) >= 0
        assert not any(s in key or key in s for s in (*secrets, "shop-1"))
    # A second instance hashes with its own secret: the keys say nothing across processes.
    other = make_remote(switch[0], httpx.Auth(), Clocks(ManualClock()))
    assert other._keys.key("api-key", creds.api_key) != remote._keys.key("api-key", creds.api_key)


async def test_oversized_credentials_are_refused_without_asking(
    remote: RemoteIntrospection, switch: Http
) -> None:
    _, counter = switch
    for token in ("", "x" * 10_001):
        with pytest.raises(InvalidToken):
            await remote.api_keys.verify(token)
    for name in ("", "l" * 513, "bad\nlogin", "nul\x00"):
        assert await remote.partners.partner_by_login(name) is None
    assert counter.asked == 0


async def test_signing_keys_public_half_by_id_login_and_terminal(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    clock: ManualClock,
    clocks: Clocks,
    services: Services,
    remote: RemoteIntrospection,
    switch: Http,
) -> None:
    creds = await credentials(
        client,
        mailbox,
        clock,
        "partners@example.com",
        terminalId="10001",
        password="terminal secret",
        allowedIps=["192.0.2.0/24"],
        replayWindow=30,
    )
    _, counter = switch
    partners = remote.partners
    found = [
        await partners.partner_by_id(creds.signing_key),
        await partners.partner_by_login("shop-1"),
        await partners.partner_by_terminal("10001"),
    ]
    assert found[0] == found[1] == found[2] and found[0] is not None
    partner = found[0]
    server = await services.signing_keys.partner_by_id(creds.signing_key)
    assert server is not None
    for method in ("signature", "http-signature"):
        assert partner.principal(method) == server.principal(method)
    assert digital_sign.public_der(partner.public_key) == digital_sign.public_der(server.public_key)
    assert partner.algorithms == server.algorithms and partner.replay_window == 30
    assert partner.address_allowed("192.0.2.7") and not partner.address_allowed("203.0.113.1")
    assert not partner.address_allowed(None)
    assert not hasattr(partner, "password_hash") and not hasattr(partners, "check_password")
    assert counter.asked == 3
    await partners.note_used(creds.signing_key)  # nothing to send
    assert counter.asked == 3
    got = await client.get(
        f"{SIGNING_KEYS.format(org=creds.org)}/{creds.signing_key}", headers=creds.owner
    )
    assert got.json()["lastUsedAt"] is not None  # the server noted the look-up
    # Disabled on the server: gone here once the delay is over; unknown ones are None.
    r = await client.post(
        f"{SIGNING_KEYS.format(org=creds.org)}/{creds.signing_key}/disable", headers=creds.owner
    )
    assert r.status_code == 200
    assert await partners.partner_by_id(creds.signing_key) is not None
    clocks.advance(1)
    assert await partners.partner_by_id(creds.signing_key) is None
    assert await partners.partner_by_login("nobody") is None


PARTNER_HOSTILE: dict[str, dict[str, Any]] = {
    "private key": {"public_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"},
    "not a key": {"public_key": "hello"},
    "two keys": {"public_key": public_pem() + public_pem()},
    "algorithms a string": {"algorithms": "SHA256withRSA"},
    "bad network": {"allowed_networks": ["not-a-network"]},
    "window too long": {"replay_window": 10**9},
    "another key": {"key_id": "someone-else"},
    "no methods": {"methods": None},
}


@pytest.mark.parametrize("change", list(PARTNER_HOSTILE), ids=list(PARTNER_HOSTILE))
async def test_hostile_signing_key_answers_are_503(
    remote: RemoteIntrospection, switch: Http, change: str
) -> None:
    _, counter = switch
    good = {
        "active": True,
        "key_id": "k1",
        "propusk_kind": "signing-key",
        "public_key": public_pem(),
        "algorithms": ["SHA256withRSA", "SomethingNew"],
        "replay_window": 0,
        "allowed_networks": [],
        "org": "o1",
        "methods": ["payments.topup"],
        "apps": [],
    }
    counter.forced = _json(good)
    partner = await remote.partners.partner_by_id("k1")
    assert partner is not None and partner.algorithms == {"SHA256withRSA"}  # unknown dropped
    remote.forget()
    counter.forced = _json({**good, **PARTNER_HOSTILE[change]})
    with pytest.raises(IntrospectionUnavailable):
        await remote.partners.partner_by_id("k1")
    assert cache_keys(remote) == []
