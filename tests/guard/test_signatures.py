"""X-Digital-Sign and the XML password in the embedded guard: who signed, what is refused
(with the right envelope and code), and that a refused request never reaches the app while
an accepted one reaches it with the very same body bytes."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from propusk.guard.middleware import PRINCIPAL_KEY, PropuskGuard
from propusk.guard.request import RequestView
from propusk.guard.verifiers.digital_sign import DigitalSignature
from propusk.guard.verifiers.partners import SignatureRejected
from propusk.storage.cache import Cache
from propusk.wiring import Services
from tests.helpers import qiwi_code
from tests.support import Mailbox
from tests.web.service_key_helpers import owner_with_org
from tests.web.signing_key_helpers import (
    KEYS,
    OTHER,
    TOPUP,
    new_signing_key,
    signed,
    xml_body,
)

# Partner XML API result codes (spec section 3), read with tests.helpers.qiwi_code.
QIWI_150 = 150
QIWI_339 = 339
QIWI_300 = 300
CLIENT_IP = "203.0.113.7"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"forward_auth_clients": ["203.0.113.0/24"]}  # the test client may ask forward-auth


@dataclass
class Recorder:
    """The protected app: records every call and the exact body it received."""

    calls: list[tuple[str, bytes, Any]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.calls.append((scope["path"], b"".join(chunks), scope.get(PRINCIPAL_KEY)))
        body = b'<response><result-code fatal="false">0</result-code></response>'
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


@dataclass
class Setup:
    guard: PropuskGuard
    app: Recorder
    http: httpx.AsyncClient
    key: dict[str, Any]
    owner: dict[str, str]
    org: str


@pytest.fixture
async def setup(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> AsyncIterator[Setup]:
    owner, org, _ = await owner_with_org(client, mailbox, "partner@example.com", apps=0)
    key = await new_signing_key(
        client,
        owner,
        org,
        login="shop-1",
        terminalId="10001",
        password="terminal pass 1",
        methods=["payments.topup", "reports.read"],
        # More than one algorithm, so a swapped header fails on the signature itself.
        algorithms=["SHA256withRSA", "SHA512withRSA", "SHA256withRSA/PSS"],
    )
    app = Recorder()
    guard = PropuskGuard(
        app,
        gate=services.gate,
        max_body_bytes=4096,
    )
    transport = httpx.ASGITransport(app=guard, client=(CLIENT_IP, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield Setup(guard, app, http, key, owner, org)


async def test_signed_request_reaches_the_app_with_the_same_bytes(
    setup: Setup, services: Services, client: httpx.AsyncClient
) -> None:
    body = xml_body(extra="<comment>\u00e9\r\n  </comment>")
    r = await setup.http.post(
        TOPUP, content=body, headers=signed(body, X_Digital_Sign_Login="shop-1")
    )
    assert r.status_code == 200, r.text
    ((path, received, principal),) = setup.app.calls
    assert path == TOPUP and received == body
    assert principal.subject == setup.key["keyId"] and principal.method == "signature"
    assert principal.kind == "signing-key" and principal.org_id == setup.org
    assert await services.signing_keys.flush() == 1  # lastUsedAt, written in a batch
    path = f"{KEYS.format(org=setup.org)}/{setup.key['keyId']}"
    assert (await client.get(path, headers=setup.owner)).json()["lastUsedAt"] is not None


@pytest.mark.parametrize(
    "identity",
    [
        {"X-Digital-Sign-Login": "shop-1"},
        {"X-Digital-Sign-Login": base64.b64encode(b"shop-1").decode()},
        {"X-Key-Id": "KEY"},
        {},  # the <terminal-id> of the body
    ],
    ids=["raw-login", "base64-login", "key-id", "terminal-id"],
)
async def test_every_way_to_name_the_signer(setup: Setup, identity: dict[str, str]) -> None:
    headers = {k: v.replace("KEY", setup.key["keyId"]) for k, v in identity.items()}
    body = xml_body()
    r = await setup.http.post(TOPUP, content=body, headers={**signed(body), **headers})
    assert r.status_code == 200, r.text
    assert setup.app.calls[0][2].subject == setup.key["keyId"]


async def test_chunked_body_is_replayed_whole(setup: Setup) -> None:
    body = xml_body(extra="<pad>" + "x" * 2000 + "</pad>")
    pieces = [body[:7], body[7:1500], b"", body[1500:]]
    headers = [(k.lower().encode(), v.encode()) for k, v in signed(body).items()]
    scope = {
        "type": "http",
        "method": "POST",
        "path": TOPUP,
        "raw_path": TOPUP.encode(),
        "headers": headers,  # no Content-Length: chunked
        "client": (CLIENT_IP, 1),
        "query_string": b"",
    }
    queue = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
        for i, p in enumerate(pieces)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await setup.guard(scope, receive, send)
    assert sent[0]["status"] == 200
    assert setup.app.calls[0][1] == body


def _refusals() -> dict[str, tuple[Any, int, int]]:
    """name -> (make headers and body from the key id, status, envelope)."""
    body = xml_body()
    good = signed(body)
    return {
        "tampered-body": (lambda k: (body + b" ", good), 401, QIWI_150),
        "swapped-alg-header": (
            lambda k: (body, {**good, "X-Digital-Sign-Alg": "SHA512withRSA"}),
            401,
            QIWI_150,
        ),
        "swapped-to-pss": (
            lambda k: (body, {**good, "X-Digital-Sign-Alg": "SHA256withRSA/PSS"}),
            401,
            QIWI_150,
        ),
        "another-keys-signature": (lambda k: (body, signed(body, key=OTHER)), 401, QIWI_150),
        "truncated-base64": (
            lambda k: (body, {**good, "X-Digital-Sign": good["X-Digital-Sign"][:-3]}),
            401,
            QIWI_150,
        ),
        "not-base64": (lambda k: (body, {**good, "X-Digital-Sign": "%%%"}), 401, QIWI_150),
        "empty-signature": (lambda k: (body, {**good, "X-Digital-Sign": ""}), 401, QIWI_150),
        "no-alg-header": (
            lambda k: (body, {n: v for n, v in good.items() if n != "X-Digital-Sign-Alg"}),
            401,
            QIWI_150,
        ),
        "unknown-alg": (
            lambda k: (body, {**good, "X-Digital-Sign-Alg": "SHA256withDSA"}),
            401,
            QIWI_150,
        ),
        "legacy-not-enabled": (
            lambda k: (body, signed(body, "SHA1withRSA")),
            401,
            QIWI_150,
        ),
        "missing-login": (
            lambda k: (b"<request><request-type>pay</request-type></request>", good),
            401,
            QIWI_150,
        ),
        "unknown-terminal": (
            lambda k: (xml_body("99999"), signed(xml_body("99999"))),
            401,
            QIWI_150,
        ),
        "unknown-login": (
            lambda k: (body, {**good, "X-Digital-Sign-Login": "nobody"}),
            401,
            QIWI_150,
        ),
        "unknown-key-id": (lambda k: (body, {**good, "X-Key-Id": "x" * 36}), 401, QIWI_150),
        "xxe": (
            lambda k: (XXE, signed(XXE, X_Key_Id=k)),
            400,
            QIWI_300,
        ),
        "billion-laughs": (
            lambda k: (LAUGHS, signed(LAUGHS, X_Key_Id=k)),
            400,
            QIWI_300,
        ),
        "oversized-body": (
            lambda k: (BIG, signed(BIG, X_Key_Id=k)),
            413,
            QIWI_300,
        ),
        "no-credential": (lambda k: (body, {}), 401, QIWI_150),
        "wrong-password": (lambda k: (xml_body(password="wrong password"), {}), 401, QIWI_150),
        "password-unknown-terminal": (
            lambda k: (xml_body("55555", password="terminal pass 1"), {}),
            401,
            QIWI_150,
        ),
    }


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE request [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<request><terminal-id>10001</terminal-id><a>&x;</a></request>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;">]><request><terminal-id>10001</terminal-id>&c;</request>'
)
BIG = xml_body(extra="<pad>" + "x" * 5000 + "</pad>")
REFUSALS = _refusals()


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
async def test_refusals_never_reach_the_app(setup: Setup, case: tuple[Any, int, int]) -> None:
    make, status, envelope = case
    body, headers = make(setup.key["keyId"])
    r = await setup.http.post(TOPUP, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert qiwi_code(r.content) == envelope
    assert r.headers["content-type"].startswith("application/xml")
    assert setup.app.calls == []


async def test_oversized_chunked_body_is_refused_before_the_app(setup: Setup) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    r = await setup.http.post(TOPUP, content=chunks(), headers=signed(b"whatever"))
    assert r.status_code == 413 and qiwi_code(r.content) == QIWI_300
    assert setup.app.calls == []


async def test_ip_allowlist_answers_339(
    setup: Setup, client: httpx.AsyncClient, services: Services
) -> None:
    path = f"{KEYS.format(org=setup.org)}/{setup.key['keyId']}"
    r = await client.patch(path, json={"allowedIps": ["198.51.100.0/24"]}, headers=setup.owner)
    assert r.status_code == 200
    body = xml_body()
    r = await setup.http.post(TOPUP, content=body, headers=signed(body))
    assert r.status_code == 403 and qiwi_code(r.content) == QIWI_339
    r = await setup.http.post(TOPUP, content=xml_body(password="terminal pass 1"))
    assert r.status_code == 403 and qiwi_code(r.content) == QIWI_339
    # A forged signature from a blocked address is a plain 150: no hint about the key.
    r = await setup.http.post(TOPUP, content=body, headers=signed(body, key=OTHER))
    assert qiwi_code(r.content) == QIWI_150
    assert setup.app.calls == []
    await client.patch(path, json={"allowedIps": [f"{CLIENT_IP}/32"]}, headers=setup.owner)
    r = await setup.http.post(TOPUP, content=body, headers=signed(body))
    assert r.status_code == 200


async def test_replay_window(setup: Setup, client: httpx.AsyncClient) -> None:
    body = xml_body(extra="<txn>1</txn>")
    r = await setup.http.post(TOPUP, content=body, headers=signed(body))
    r = await setup.http.post(TOPUP, content=body, headers=signed(body))
    assert r.status_code == 200  # no window configured: the same body passes twice
    path = f"{KEYS.format(org=setup.org)}/{setup.key['keyId']}"
    await client.patch(path, json={"replayWindow": 600}, headers=setup.owner)
    fresh = xml_body(extra="<txn>2</txn>")
    assert (await setup.http.post(TOPUP, content=fresh, headers=signed(fresh))).status_code == 200
    again = await setup.http.post(TOPUP, content=fresh, headers=signed(fresh))
    assert again.status_code == 401 and qiwi_code(again.content) == QIWI_150
    assert len(setup.app.calls) == 3


async def test_disabled_key_is_refused(setup: Setup, client: httpx.AsyncClient) -> None:
    path = f"{KEYS.format(org=setup.org)}/{setup.key['keyId']}"
    await client.post(f"{path}/disable", headers=setup.owner)
    body = xml_body()
    r = await setup.http.post(TOPUP, content=body, headers=signed(body))
    assert r.status_code == 401 and qiwi_code(r.content) == QIWI_150
    assert setup.app.calls == []


async def test_xml_password(setup: Setup) -> None:
    body = xml_body(password="terminal pass 1")
    r = await setup.http.post(TOPUP, content=body)
    assert r.status_code == 200, r.text
    ((_, received, principal),) = setup.app.calls
    assert received == body and principal.method == "password"
    assert principal.subject == setup.key["keyId"]


async def test_signature_needs_no_password_and_wins_over_a_wrong_one(setup: Setup) -> None:
    body = xml_body(password="not the password")
    r = await setup.http.post(TOPUP, content=body, headers=signed(body))
    assert r.status_code == 200 and setup.app.calls[0][2].method == "signature"


async def test_json_api_gets_propusk_errors(setup: Setup) -> None:
    r = await setup.http.get("/demo/reports", headers=signed(b"", key=OTHER, X_Key_Id="k"))
    assert r.status_code == 401
    assert r.json() == {
        "error": "invalid_signature",
        "message": "The request signature is not valid",
    }
    r = await setup.http.get("/demo/reports", headers=signed(b"", X_Key_Id=setup.key["keyId"]))
    assert r.status_code == 200, r.text
    r = await setup.http.get("/demo/apps/a1", headers=signed(b"", X_Key_Id=setup.key["keyId"]))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"  # not in its methods
    assert len(setup.app.calls) == 1


async def test_requests_without_signature_keep_streaming(setup: Setup) -> None:
    """Routes that are not XML APIs are not buffered when nobody signs them."""
    r = await setup.http.post("/demo/apps/a1/reviews/r1/reply", content=b"x" * 10000)
    assert r.status_code == 401  # no credential; and no 413: the body was never read


async def test_forward_auth_cannot_check_body_signatures(
    setup: Setup, client: httpx.AsyncClient
) -> None:
    body = xml_body()
    headers = {**signed(body), "X-Original-Method": "POST", "X-Original-URI": TOPUP}
    r = await client.post("/v1/authorize", content=body, headers=headers)
    # The route speaks the partner XML API, from forward-auth too; proxies get 401 or 403.
    assert r.status_code == 403 and qiwi_code(r.content) == QIWI_300
    assert "embedded guard" in r.text  # the message says why
    r = await client.get("/v1/authorize", headers=headers)  # as nginx asks: no body at all
    assert r.status_code == 403
    # The password is in the body, which forward-auth never has: no credential, 401.
    r = await client.post(
        "/v1/authorize",
        content=xml_body(password="terminal pass 1"),
        headers={"X-Original-Method": "POST", "X-Original-URI": TOPUP},
    )
    assert r.status_code == 401 and qiwi_code(r.content) == QIWI_150


async def test_windows_1251_body_and_raw_utf8_login(
    setup: Setup, client: httpx.AsyncClient
) -> None:
    path = f"{KEYS.format(org=setup.org)}/{setup.key['keyId']}"
    login = "магазин-1"
    r = await client.patch(path, json={"login": login}, headers=setup.owner)
    assert r.status_code == 200, r.text
    body = (
        '<?xml version="1.0" encoding="windows-1251"?><request><terminal-id>10001'
        "</terminal-id><comment>оплата</comment></request>"
    ).encode("cp1251")
    # Raw UTF-8 bytes in the header, and Base64 of them.
    for sent in (login.encode(), base64.b64encode(login.encode())):
        headers = {k.encode(): v.encode() for k, v in signed(body).items()}
        headers[b"X-Digital-Sign-Login"] = sent
        r = await setup.http.post(TOPUP, content=body, headers=headers)
        assert r.status_code == 200, r.text
    assert [call[1] for call in setup.app.calls] == [body, body]


async def test_replay_markers_in_memory_and_redis(
    setup: Setup, client: httpx.AsyncClient, services: Services, any_cache: Cache
) -> None:
    path = f"{KEYS.format(org=setup.org)}/{setup.key['keyId']}"
    await client.patch(path, json={"replayWindow": 60}, headers=setup.owner)
    verifier = DigitalSignature(services.signing_keys, any_cache)
    body = xml_body(extra="<txn>redis</txn>")
    headers = {k.lower(): v for k, v in signed(body, X_Key_Id=setup.key["keyId"]).items()}
    view = RequestView("POST", TOPUP, headers, CLIENT_IP, body)
    assert verifier.present(view)
    principal = await verifier.verify(view)
    assert principal.subject == setup.key["keyId"]
    with pytest.raises(SignatureRejected) as caught:
        await verifier.verify(view)
    assert caught.value.detail is not None and "replayed" in caught.value.detail
    # Another body is another request.
    other = xml_body(extra="<txn>redis 2</txn>")
    headers = {k.lower(): v for k, v in signed(other, X_Key_Id=setup.key["keyId"]).items()}
    assert await verifier.verify(RequestView("POST", TOPUP, headers, CLIENT_IP, other))
