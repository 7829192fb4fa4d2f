"""RFC 9421 signatures in the guard, through the real app and its services: the SDK's
``HttpMessageSignatureAuth`` is accepted for every algorithm a key enables, and replays,
stale or tampered requests, algorithms the key does not enable, unknown keys and blocked
addresses are refused before the protected app is called."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from starlette.types import Receive, Scope, Send

from propusk.client.signatures import HttpMessageSignatureAuth
from propusk.config import ConfigError, Settings, load_settings
from propusk.core.http_signatures import PrivateKey
from propusk.guard.gate import Gate
from propusk.guard.middleware import PRINCIPAL_KEY, PropuskGuard
from propusk.guard.verifiers.http_signature import HttpMessageSignature, policy_from
from propusk.wiring import Services, http_signatures
from tests.helpers import qiwi_code
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import owner_with_org
from tests.web.signing_key_helpers import KEYS, PARTNER, new_signing_key, public_pem


@dataclass
class Recorder:
    """The protected app: records every call with the exact body and the principal."""

    calls: list[tuple[str, bytes, Any]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.calls.append((scope["path"], b"".join(chunks), scope.get(PRINCIPAL_KEY)))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


ED = ed25519.Ed25519PrivateKey.generate()
P256 = ec.generate_private_key(ec.SECP256R1())
CLIENT_IP = "203.0.113.7"


@dataclass
class Partner:
    owner: dict[str, str]
    org: str
    app: str
    key_id: str


async def register(
    client: httpx.AsyncClient, mailbox: Mailbox, key: PrivateKey, algorithms: list[str], **kw: Any
) -> Partner:
    owner, org, apps = await owner_with_org(client, mailbox, "rfc9421@example.com", apps=1)
    created = await new_signing_key(
        client,
        owner,
        org,
        publicKeyPem=public_pem(key),
        algorithms=algorithms,
        appIds=apps,
        methods=["reviews.reply", "reviews.read", "payments.topup"],
        **kw,
    )
    return Partner(owner, org, apps[0], created["keyId"])


def sdk(key: PrivateKey, key_id: str, clock: ManualClock, **kw: Any) -> HttpMessageSignatureAuth:
    return HttpMessageSignatureAuth(key, key_id, clock=lambda: clock.now().timestamp(), **kw)


@pytest.mark.parametrize(
    ("key", "key_alg", "rfc_alg"),
    [
        (ED, "Ed25519", "ed25519"),
        (P256, "SHA256withECDSA", "ecdsa-p256-sha256"),
        (PARTNER, "SHA512withRSA/PSS", "rsa-pss-sha512"),
        (PARTNER, "SHA256withRSA", "rsa-v1_5-sha256"),
    ],
)
async def test_sdk_signed_requests_pass_the_real_guard(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    clock: ManualClock,
    key: PrivateKey,
    key_alg: str,
    rfc_alg: str,
) -> None:
    partner = await register(client, mailbox, key, [key_alg])
    auth = sdk(key, partner.key_id, clock, alg=rfc_alg)
    url = f"/demo/apps/{partner.app}/reviews/r1/reply"
    r = await client.post(url, json={"text": "Thanks!"}, auth=auth)
    assert r.status_code == 200, r.text
    assert r.json()["authenticatedBy"] == "http-signature"
    assert r.json()["subject"] == partner.key_id
    assert r.json()["org"] == partner.org
    # A GET has no body: no Content-Digest is needed.
    r = await client.get(f"/demo/apps/{partner.app}/reviews?page=2", auth=auth)
    assert r.status_code == 200, r.text
    assert r.json()["authenticatedBy"] == "http-signature"


async def test_the_policy_still_decides_the_scope(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    partner = await register(client, mailbox, ED, ["Ed25519"])
    r = await client.get("/demo/reports", auth=sdk(ED, partner.key_id, clock))
    assert r.status_code == 403, r.text  # reports.read is not among the key's methods


@dataclass
class Guarded:
    guard: PropuskGuard
    http: httpx.AsyncClient
    app: Recorder
    partner: Partner
    clock: ManualClock


@pytest.fixture
async def guarded(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services, clock: ManualClock
) -> AsyncIterator[Guarded]:
    partner = await register(client, mailbox, ED, ["Ed25519"], allowedIps=["203.0.113.0/24"])
    app = Recorder()
    guard = PropuskGuard(app, gate=services.gate)
    transport = httpx.ASGITransport(app=guard, client=(CLIENT_IP, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as http:
        yield Guarded(guard, http, app, partner, clock)


def signed_request(g: Guarded, body: bytes = b'{"text": "hi"}', **kw: Any) -> httpx.Request:
    """A request as the SDK signs it, ready to be sent (or altered, or sent twice)."""
    url = f"https://api.example/demo/apps/{g.partner.app}/reviews/r1/reply"
    request = g.http.build_request("POST", url, content=body)
    flow = sdk(kw.pop("key", ED), kw.pop("keyid", g.partner.key_id), g.clock, **kw).auth_flow(
        request
    )
    return next(flow)


async def test_accepted_request_reaches_the_app_with_the_same_bytes(g: Guarded) -> None:
    body = b'{"text": "\xc3\xa9\\r\\n"}'
    r = await g.http.send(signed_request(g, body))
    assert r.status_code == 200, r.text
    ((_, received, principal),) = g.app.calls
    assert received == body
    assert principal.method == "http-signature" and principal.kind == "signing-key"
    assert principal.subject == g.partner.key_id


async def test_a_keys_principal_is_built_once_and_follows_a_change_of_the_key(
    g: Guarded, client: httpx.AsyncClient
) -> None:
    """While the key's record is cached every request gets the same (frozen) Principal;
    a change of the key drops the record, and the next Principal has the new scope."""
    for _ in range(2):
        assert (await g.http.send(signed_request(g))).status_code == 200
    (_, _, first), (_, _, second) = g.app.calls
    assert first is second
    assert first.methods == {"reviews.reply", "reviews.read", "payments.topup"}
    assert first.apps == {g.partner.app} and first.org_id == g.partner.org
    path = f"{KEYS.format(org=g.partner.org)}/{g.partner.key_id}"
    r = await client.patch(path, json={"methods": ["reviews.read"]}, headers=g.partner.owner)
    assert r.status_code == 200, r.text
    r = await g.http.send(signed_request(g))
    assert r.status_code == 403, r.text  # reviews.reply is no longer the key's


def _strip(request: httpx.Request, name: str) -> httpx.Request:
    del request.headers[name]
    return request


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("replayed nonce", 401, "invalid_signature"),
        ("tampered body", 401, "invalid_signature"),
        ("tampered path", 401, "invalid_signature"),
        ("too old", 401, "invalid_signature"),
        ("alg not enabled", 401, "invalid_signature"),
        ("unknown key", 401, "invalid_signature"),
        ("another key", 401, "invalid_signature"),
        ("no signature", 401, "invalid_signature"),
        ("no signature-input", 401, "invalid_signature"),
        ("body not covered", 401, "invalid_signature"),
        ("hmac", 401, "invalid_signature"),
        ("garbage", 401, "invalid_signature"),
        ("blocked address", 403, "address_blocked"),
    ],
)
async def test_refusals_never_reach_the_app(g: Guarded, case: str, status: int, code: str) -> None:
    request = signed_request(g)
    if case == "replayed nonce":
        assert (await g.http.send(signed_request(g, nonce=lambda: "same-nonce"))).status_code == 200
        g.app.calls.clear()
        request = signed_request(g, nonce=lambda: "same-nonce")
    elif case == "tampered body":
        # Same length, one byte changed: only Content-Digest can tell.
        request = httpx.Request(
            "POST", request.url, headers=request.headers, content=b'{"text": "HI"}'
        )
    elif case == "tampered path":
        request.url = request.url.copy_with(path=f"/demo/apps/{g.partner.app}/reviews/r2/reply")
    elif case == "too old":
        request = signed_request(g)
        g.clock.advance(306)
    elif case == "alg not enabled":
        request = signed_request(g, key=PARTNER, alg="rsa-pss-sha512")
    elif case == "unknown key":
        request = signed_request(g, keyid="no-such-key")
    elif case == "another key":
        request = signed_request(g, key=ed25519.Ed25519PrivateKey.generate())
    elif case == "no signature":
        request = _strip(request, "signature")
    elif case == "no signature-input":
        request = _strip(request, "signature-input")
    elif case == "body not covered":
        request = signed_request(g, components=("@method", "@target-uri"))
    elif case == "hmac":
        request.headers["signature-input"] = request.headers["signature-input"].replace(
            'alg="ed25519"', 'alg="hmac-sha256"'
        )
    elif case == "garbage":
        request.headers["signature-input"] = "sig1=(((("
    elif case == "blocked address":
        transport = httpx.ASGITransport(app=g.guard, client=("198.51.100.1", 1))
        async with httpx.AsyncClient(transport=transport) as other:
            r = await other.send(request)
        assert (r.status_code, r.json()["error"]) == (status, code)
        assert g.app.calls == []
        return
    r = await g.http.send(request)
    assert (r.status_code, r.json()["error"]) == (status, code), r.text
    assert g.app.calls == []


@pytest.fixture
def g(guarded: Guarded) -> Guarded:
    return guarded


async def test_nonce_replay_is_refused_across_verifier_instances(
    g: Guarded, services: Services
) -> None:
    """Replay markers live in the shared cache, not in the verifier object."""
    request = signed_request(g, nonce=lambda: "shared-nonce")
    first = HttpMessageSignature(services.signing_keys, services.cache)
    second = HttpMessageSignature(services.signing_keys, services.cache)
    for verifier, expected in ((first, 200), (second, 401)):
        gate = Gate(catalog=services.catalog, verifiers=[verifier])
        guard = PropuskGuard(Recorder(), gate=gate)
        transport = httpx.ASGITransport(app=guard, client=(CLIENT_IP, 1))
        async with httpx.AsyncClient(transport=transport) as http:
            assert (await http.send(request)).status_code == expected


@pytest.mark.parametrize(
    ("components", "message"),
    [(["@method", ""], "empty"), (["Content-Type"], "unknown component"), (["@nope"], "unknown")],
)
def test_bad_component_settings_are_refused(
    components: list[str], message: str, settings: Settings, services: Services
) -> None:
    with pytest.raises(ValueError, match=message):
        policy_from(components, max_age=300, clock_skew=5)
    bad = settings.model_copy(update={"http_signature_components": components})
    with pytest.raises(ConfigError, match="http_signature_components"):
        http_signatures(bad, services.signing_keys, services.cache, services.clock)


def test_policy_from_settings_groups_alternatives() -> None:
    policy = policy_from(["@method", "@target-uri|@path", "content-type"], max_age=60, clock_skew=2)
    assert policy.required == (
        frozenset({"@method"}),
        frozenset({"@target-uri", "@path"}),
        frozenset({"content-type"}),
    )
    assert (policy.max_age, policy.clock_skew, policy.require_nonce) == (60, 2, True)


async def test_xml_api_refusals_use_the_partner_envelope(g: Guarded) -> None:
    url = "https://api.example/demo/payments/topup"
    body = b"<request><terminal-id>1</terminal-id></request>"
    request = next(
        sdk(ED, g.partner.key_id, g.clock).auth_flow(
            g.http.build_request("POST", url, content=body)
        )
    )
    ok = await g.http.send(request)
    assert ok.status_code == 200, ok.text
    assert g.app.calls[0][1] == body
    replayed = await g.http.send(request)
    assert qiwi_code(replayed.content) == 150


def test_components_setting_from_the_environment(services: Services) -> None:
    settings = load_settings(
        environ={"PROPUSK_HTTP_SIGNATURE_COMPONENTS": "@method, @path|@target-uri, date"},
        mode="development",
    )
    verifier = http_signatures(settings, services.signing_keys, services.cache, services.clock)
    assert verifier._policy.required == (
        frozenset({"@method"}),
        frozenset({"@path", "@target-uri"}),
        frozenset({"date"}),
    )
