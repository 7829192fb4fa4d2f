"""The service-key flow against the real app: the exchange as the spec signs it, the
``Public-Token`` header, renewal before expiry, one re-exchange and one retry on 401, the
exchange's refusals as ``AuthError``, every private-key format, and the same object driving
a sync ``httpx.Client`` over a real socket."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from propusk.client import (
    AuthError,
    ExchangeError,
    ServiceKeyAuth,
    ServiceToken,
    load_service_private_key,
)
from propusk.client.service_keys import exchange_timestamp, sign_exchange
from tests.client.conftest import API, HTML, SERVER, ClientClock, Recording
from tests.client.live import LiveServer
from tests.helpers import PASSWORD, bearer
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import load_private, owner_with_org

EXCHANGE = "POST testserver/public/auth/"
ISO_MS_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


class Org:
    """An owner, its company, two apps and one service key on ``reviews.read`` and
    ``reviews.reply`` for the first app."""

    def __init__(self, owner: dict[str, str], org: str, apps: list[str], key: dict[str, Any]):
        self.owner = owner
        self.org = org
        self.apps = apps
        self.key = key

    @property
    def key_id(self) -> str:
        return str(self.key["keyId"])

    @property
    def private_b64(self) -> str:
        return str(self.key["privateKey"])

    @property
    def reviews(self) -> str:
        return f"/demo/apps/{self.apps[0]}/reviews"

    def path(self, action: str = "") -> str:
        return f"/v1/orgs/{self.org}/service-keys/{self.key_id}{action}"


async def keyed_org(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> Org:
    owner, org, apps = await owner_with_org(client, mailbox, email)
    r = await client.post(
        f"/v1/orgs/{org}/service-keys",
        json={"name": "CI", "appIds": [apps[0]], "methods": ["reviews.read", "reviews.reply"]},
        headers=owner,
    )
    assert r.status_code == 201, r.text
    return Org(owner, org, apps, r.json())


def public_token(request: httpx.Request) -> str:
    value: str = request.headers.get("Public-Token", "")
    assert value, f"no Public-Token on {request.method} {request.url}"
    return value


def exchange_body(request: httpx.Request) -> dict[str, str]:
    body: dict[str, str] = json.loads(request.content)
    return body


# -- first use ----------------------------------------------------------------------------


async def test_first_request_exchanges_a_signed_body_and_sends_public_token(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "first-sk@example.com")
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)

    response = await api.get(org.reviews, auth=auth)

    assert response.status_code == 200, response.text
    assert response.json()["authenticatedBy"] == "service-key"
    assert response.json()["org"] == org.org
    assert wire.calls == [f"{EXCHANGE} 200", f"GET testserver{org.reviews} 200"]
    exchange, call = wire.requests
    # The exchange: exactly the three fields, the timestamp in the spec's format from the
    # client's clock, and SHA512withRSA over keyId + timestamp in standard Base64.
    body = exchange_body(exchange)
    assert list(body) == ["keyId", "timestamp", "signature"]
    assert body["keyId"] == org.key_id
    assert ISO_MS_UTC.fullmatch(body["timestamp"]), body["timestamp"]
    assert abs(datetime.fromisoformat(body["timestamp"]).timestamp() - client_clock.now) < 0.001
    public = serialization.load_pem_public_key(org.key["publicKeyPem"].encode())
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(  # raises if wrong
        base64.b64decode(body["signature"], validate=True),
        (org.key_id + body["timestamp"]).encode(),
        padding.PKCS1v15(),
        hashes.SHA512(),
    )
    assert "Public-Token" not in exchange.headers
    assert "Authorization" not in exchange.headers and "Authorization" not in call.headers
    # The exchange inherits the API request's timeout and User-Agent.
    assert exchange.extensions["timeout"] == call.extensions["timeout"]
    assert exchange.extensions["timeout"]["read"] == 7.5
    assert exchange.headers["User-Agent"] == "propusk-tests/1"
    assert auth.token is not None
    assert public_token(call) == auth.token.jwe
    assert auth.token.ttl == 900
    assert auth.token.expires_at == pytest.approx(client_clock.now + 900, abs=0.001)
    assert auth.token.jwe not in repr(auth.token)

    # The token is kept: the next request goes straight to the API.
    wire.clear()
    again = await api.get(org.reviews, auth=auth)
    assert again.status_code == 200
    assert wire.calls == [f"GET testserver{org.reviews} 200"]


async def test_token_near_expiry_is_renewed_before_the_request(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    clock: ManualClock,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "renew-sk@example.com")
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)
    assert (await api.get(org.reviews, auth=auth)).status_code == 200
    first = auth.token
    assert first is not None

    # 61 s before expiry: still used as it is.
    clock.advance(900 - 61)
    client_clock.advance(900 - 61)
    wire.clear()
    assert (await api.get(org.reviews, auth=auth)).status_code == 200
    assert wire.calls == [f"GET testserver{org.reviews} 200"]
    assert public_token(wire.requests[0]) == first.jwe

    # Within the 60 s margin: renewed before the request, which carries the new token.
    clock.advance(2)
    client_clock.advance(2)
    wire.clear()
    assert (await api.get(org.reviews, auth=auth)).status_code == 200
    assert wire.calls == [f"{EXCHANGE} 200", f"GET testserver{org.reviews} 200"]
    assert auth.token is not None and auth.token.jwe != first.jwe
    assert public_token(wire.requests[1]) == auth.token.jwe
    stamped = datetime.fromisoformat(exchange_body(wire.requests[0])["timestamp"]).timestamp()
    assert stamped == pytest.approx(client_clock.now, abs=0.001)


async def test_a_custom_margin_is_capped_at_half_the_lifetime(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    """A margin as long as the lifetime would make every request exchange."""
    org = await keyed_org(client, mailbox, "margin-sk@example.com")
    auth = ServiceKeyAuth(
        SERVER, org.key_id, org.private_b64, clock=client_clock, refresh_margin=900
    )
    assert (await api.get(org.reviews, auth=auth)).status_code == 200
    client_clock.advance(449)
    wire.clear()
    assert (await api.get(org.reviews, auth=auth)).status_code == 200
    assert wire.calls == [f"GET testserver{org.reviews} 200"]


# -- 401 from the API: one re-exchange, one retry -------------------------------------------


@pytest.mark.parametrize("change", ["rotate-with-grace", "disable-enable"])
async def test_api_401_triggers_one_exchange_and_one_retry(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
    change: str,
) -> None:
    org = await keyed_org(client, mailbox, f"{change}@example.com")
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)
    assert (await api.get(org.reviews, auth=auth)).status_code == 200
    first = auth.token
    assert first is not None
    # Both changes bump the key's generation: earlier tokens fail, while the old private
    # key still exchanges (during the grace period, or again once enabled).
    if change == "rotate-with-grace":
        r = await client.post(org.path("/rotate"), json={"graceSeconds": 300}, headers=org.owner)
        assert r.status_code == 200, r.text
    else:
        for action in ("/disable", "/enable"):
            r = await client.post(org.path(action), headers=org.owner)
            assert r.status_code == 200, r.text

    wire.clear()
    # The client's clock has not moved: the re-exchange must still sign a new timestamp
    # (the server accepts each signature once).
    response = await api.post(
        f"/demo/apps/{org.apps[0]}/reviews/r1/reply", json={"text": "Thanks"}, auth=auth
    )

    assert response.status_code == 200, response.text
    path = f"testserver/demo/apps/{org.apps[0]}/reviews/r1/reply"
    assert wire.calls == [f"POST {path} 401", f"{EXCHANGE} 200", f"POST {path} 200"]
    refused, exchange, retried = wire.requests
    assert public_token(refused) == first.jwe
    assert auth.token is not None and public_token(retried) == auth.token.jwe != first.jwe
    assert retried.content == refused.content == b'{"text":"Thanks"}'
    assert exchange.extensions["timeout"] == refused.extensions["timeout"]
    stamps = [exchange_timestamp(client_clock.now), exchange_body(exchange)["timestamp"]]
    assert stamps[0] != stamps[1]  # one millisecond later than the first exchange's


async def test_a_401_that_persists_is_returned_after_one_retry(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "persist-sk@example.com")
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)

    response = await api.get(f"{API}/anything", auth=auth)

    assert response.status_code == 401
    assert wire.calls == [
        f"{EXCHANGE} 200",
        "GET api.test/anything 401",
        f"{EXCHANGE} 200",
        "GET api.test/anything 401",
    ]


async def test_a_401_after_another_request_renewed_retries_without_exchanging(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    """Concurrent requests that all get 401 for the same old token renew it once."""
    org = await keyed_org(client, mailbox, "concurrent-sk@example.com")
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)
    assert (await api.get(org.reviews, auth=auth)).status_code == 200
    r = await client.post(org.path("/rotate"), json={"graceSeconds": 60}, headers=org.owner)
    assert r.status_code == 200, r.text

    # Drive two flows by hand, interleaved as two concurrent requests would be.
    one = auth.auth_flow(httpx.Request("GET", f"{SERVER}{org.reviews}"))
    two = auth.auth_flow(httpx.Request("GET", f"{SERVER}{org.reviews}"))
    sent_one, sent_two = next(one), next(two)
    wire.clear()
    exchange = one.send(await api.send(sent_one))
    retry_one = one.send(await api.send(exchange))
    retry_two = two.send(await api.send(sent_two))
    assert (await api.send(retry_one)).status_code == 200
    assert (await api.send(retry_two)).status_code == 200
    assert [c.split()[1] for c in wire.calls].count("testserver/public/auth/") == 1
    assert auth.token is not None
    assert public_token(retry_one) == public_token(retry_two) == auth.token.jwe


# -- refusals --------------------------------------------------------------------------------


async def test_a_disabled_key_raises_auth_error_and_never_calls_the_api(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "disabled-sk@example.com")
    r = await client.post(org.path("/disable"), headers=org.owner)
    assert r.status_code == 200, r.text
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)

    with pytest.raises(AuthError) as caught:
        await api.get(org.reviews, auth=auth)

    assert isinstance(caught.value, ExchangeError)
    assert caught.value.status == 401
    assert caught.value.code == "ERROR"
    assert caught.value.message == "The key or the signature is not valid"
    assert wire.calls == [f"{EXCHANGE} 401"]
    assert auth.token is None


async def test_a_disabled_key_after_a_401_raises_auth_error(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "disabled-later-sk@example.com")
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)
    assert (await api.get(org.reviews, auth=auth)).status_code == 200
    assert (await client.post(org.path("/disable"), headers=org.owner)).status_code == 200
    wire.clear()

    with pytest.raises(ExchangeError) as caught:
        await api.get(org.reviews, auth=auth)

    assert caught.value.status == 401
    assert wire.calls == [f"GET testserver{org.reviews} 401", f"{EXCHANGE} 401"]


async def test_a_client_clock_two_minutes_off_raises_range_timestamp_not_valid(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    clock: ManualClock,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "skew-sk@example.com")
    client_clock.advance(-120)
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)

    with pytest.raises(ExchangeError) as caught:
        await api.get(org.reviews, auth=auth)

    assert caught.value.status == 400
    assert caught.value.message == "Range timestamp not valid"
    assert str(caught.value) == "400 ERROR: Range timestamp not valid"
    # The envelope's server time comes along, to show the skew.
    assert caught.value.server_time is not None
    assert datetime.fromisoformat(caught.value.server_time) == clock.now()
    assert wire.calls == [f"{EXCHANGE} 400"]


async def test_an_answer_that_is_not_propusk_raises_auth_error(
    api: httpx.AsyncClient, wire: Recording, client_clock: ClientClock
) -> None:
    key = rsa.generate_private_key(65537, 2048)
    for server, status, code in (
        (HTML, 502, "http_error"),
        (f"{HTML}/ok", 200, "invalid_response"),
    ):
        auth = ServiceKeyAuth(server, "kid", key, clock=client_clock)
        with pytest.raises(AuthError) as caught:
            await api.get(f"{API}/anything", auth=auth)
        assert (caught.value.status, caught.value.code) == (status, code)
    assert not any(c.startswith("GET api.test") for c in wire.calls)


async def test_an_unknown_key_id_and_a_wrong_private_key_get_the_same_refusal(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "unknown-sk@example.com")
    stranger = rsa.generate_private_key(65537, 2048)
    messages = set()
    for key_id, key in (("no-such-key", load_private(org.private_b64)), (org.key_id, stranger)):
        auth = ServiceKeyAuth(SERVER, key_id, key, clock=client_clock)
        with pytest.raises(ExchangeError) as caught:
            await api.get(org.reviews, auth=auth)
        assert caught.value.status == 401
        messages.add(caught.value.message)
    assert messages == {"The key or the signature is not valid"}


# -- the private key in every form it is handed around in -------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def _formats(key: rsa.RSAPrivateKey) -> dict[str, rsa.RSAPrivateKey | str | bytes]:
    pkcs8_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pkcs8_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pkcs1_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    b64 = base64.b64encode(pkcs8_der).decode()
    return {
        "object": key,
        "pem-text": pkcs8_pem.decode(),
        "pem-bytes": pkcs8_pem,
        "pkcs1-pem": pkcs1_pem.decode(),
        "console-base64-der": b64,
        "base64-der-wrapped": "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64)) + "\n",
        "base64-der-bytes": b64.encode() + b"\n",
        "raw-der": pkcs8_der,
    }


FORMATS = [
    "object",
    "pem-text",
    "pem-bytes",
    "pkcs1-pem",
    "console-base64-der",
    "base64-der-wrapped",
    "base64-der-bytes",
    "raw-der",
]


@pytest.mark.parametrize("form", FORMATS)
def test_every_private_key_format_loads_the_same_key(rsa_key: rsa.RSAPrivateKey, form: str) -> None:
    forms = _formats(rsa_key)
    assert list(forms) == FORMATS
    loaded = load_service_private_key(forms[form])
    assert loaded.private_numbers() == rsa_key.private_numbers()


async def test_every_private_key_format_exchanges(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "formats-sk@example.com")
    assert org.private_b64.startswith("MII")
    forms = _formats(load_private(org.private_b64))
    forms["console-privateKeyPem"] = org.key["privateKeyPem"]
    forms["console-privateKey"] = org.private_b64
    for form, private_key in forms.items():
        # Separate objects: a millisecond apart, as separate processes would be.
        client_clock.advance(0.001)
        auth = ServiceKeyAuth(SERVER, org.key_id, private_key, clock=client_clock)
        response = await api.get(org.reviews, auth=auth)
        assert response.status_code == 200, (form, response.text)
    assert len(wire.calls) == 2 * len(forms)


def _encrypted_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda k: "not a key at all!", "neither PEM nor Base64 DER"),
        (lambda k: "MIIE" + "A" * 40, "could not be read"),
        (lambda k: "ключ", "neither PEM nor Base64 DER"),
        (lambda k: _encrypted_pem(k), "encrypted private keys are not supported"),
        (
            lambda k: k.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            "this is a public key",
        ),
        (
            lambda k: ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "service keys are RSA keys",
        ),
        (lambda k: "A" * 100_000, "too large"),
    ],
    ids=["garbage", "bad-der", "non-ascii", "encrypted", "public-key", "ec-key", "huge"],
)
def test_unusable_private_keys_are_refused_clearly(
    rsa_key: rsa.RSAPrivateKey, make: Any, message: str
) -> None:
    data = make(rsa_key)
    with pytest.raises(ValueError, match=message) as caught:
        ServiceKeyAuth(SERVER, "kid", data)
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    assert text.strip()[:24] not in str(caught.value)  # the input is never echoed


def test_wrong_argument_types_are_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(TypeError):
        load_service_private_key(12345)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key_id"):
        ServiceKeyAuth(SERVER, "", rsa_key)


def test_signature_known_answer(rsa_key: rsa.RSAPrivateKey) -> None:
    """The spec's example message and timestamp rendering."""
    stamp = exchange_timestamp(1718700548.29)
    assert stamp == "2024-06-18T08:49:08.290+00:00"
    signature = base64.b64decode(sign_exchange(rsa_key, "123", "2024-06-18T11:49:08.290+03:00"))
    rsa_key.public_key().verify(
        signature, b"1232024-06-18T11:49:08.290+03:00", padding.PKCS1v15(), hashes.SHA512()
    )


# -- the token on its own ----------------------------------------------------------------------


async def test_aget_token_exchanges_once_and_reuses(
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    wire: Recording,
    mailbox: Mailbox,
    client_clock: ClientClock,
) -> None:
    org = await keyed_org(client, mailbox, "aget-sk@example.com")
    auth = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)
    token = await auth.aget_token(api)
    assert isinstance(token, ServiceToken)
    assert await auth.aget_token(api) is token
    assert wire.calls == [f"{EXCHANGE} 200"]
    assert wire.requests[0].extensions["timeout"]["read"] == 7.5
    plain = await client.get(org.reviews, headers={"Public-Token": token.jwe})
    assert plain.status_code == 200, plain.text

    # A client that uses this very object as its auth: the exchange is not wrapped in it.
    fresh = ServiceKeyAuth(SERVER, org.key_id, org.private_b64, clock=client_clock)
    wire.clear()
    async with httpx.AsyncClient(transport=wire, auth=fresh, timeout=3) as own:
        assert (await fresh.aget_token(own)).jwe != token.jwe
    assert wire.calls == [f"{EXCHANGE} 200"]
    assert "Public-Token" not in wire.requests[0].headers
    assert wire.requests[0].extensions["timeout"]["read"] == 3


# -- the sync client, over a real socket --------------------------------------------------------


def test_sync_client_exchanges_renews_and_retries(live: LiveServer, mailbox: Mailbox) -> None:
    live.signed_up(mailbox, "sync-sk@example.com")
    calls: list[str] = []
    hooks: dict[str, list[Any]] = {
        "request": [lambda r: calls.append(f"{r.method} {r.url.path}")],
        "response": [lambda r: calls.append(str(r.status_code))],
    }
    with httpx.Client(base_url=live.url, timeout=10) as http:
        owner = bearer(
            http.post(
                "/v1/auth/login",
                json={"username": "sync-sk@example.com", "password": PASSWORD},
            ).json()
        )
        org = http.post("/v1/orgs", json={"name": "Sync", "kind": "company"}, headers=owner)
        org_id = org.json()["id"]
        app_id = http.post(f"/v1/orgs/{org_id}/apps", json={"name": "A"}, headers=owner).json()[
            "id"
        ]
        created = http.post(
            f"/v1/orgs/{org_id}/service-keys",
            json={"name": "sync", "appIds": [app_id], "methods": ["reviews.read"]},
            headers=owner,
        )
        assert created.status_code == 201, created.text
        key = created.json()
        key_path = f"/v1/orgs/{org_id}/service-keys/{key['keyId']}"

        clock = ClientClock()
        auth = ServiceKeyAuth(live.url, key["keyId"], key["privateKey"], clock=clock)
        reviews = f"/demo/apps/{app_id}/reviews"
        with httpx.Client(auth=auth, event_hooks=hooks, timeout=10) as api:
            assert api.get(f"{live.url}{reviews}").status_code == 200
            assert calls == ["POST /public/auth/", "200", f"GET {reviews}", "200"]

            # The key's generation changes: one re-exchange, one retry.
            for action in ("/disable", "/enable"):
                assert http.post(f"{key_path}{action}", headers=owner).status_code == 200
            calls.clear()
            assert api.get(f"{live.url}{reviews}").status_code == 200
            assert calls == [
                f"GET {reviews}", "401", "POST /public/auth/", "200", f"GET {reviews}", "200"
            ]  # fmt: skip

            # Near expiry on both clocks: renewed before the request.
            clock.advance(850)
            live.clock.advance(850)
            calls.clear()
            assert api.get(f"{live.url}{reviews}").status_code == 200
            assert calls == ["POST /public/auth/", "200", f"GET {reviews}", "200"]

            # get_token hands out the cached one; a fresh object exchanges, and the client's
            # auth (the first object) does not wrap its exchange.
            assert auth.get_token(api) is auth.token
            fresh = ServiceKeyAuth(live.url, key["keyId"], key["privateKey"], clock=clock)
            calls.clear()
            assert fresh.get_token(api).jwe != auth.token.jwe
            assert calls == ["POST /public/auth/", "200"]

            # Disabled: the re-exchange is refused, as AuthError.
            assert http.post(f"{key_path}/disable", headers=owner).status_code == 200
            with pytest.raises(ExchangeError) as caught:
                api.get(f"{live.url}{reviews}")
            assert caught.value.status == 401


def test_timestamps_never_repeat_on_a_frozen_clock(rsa_key: rsa.RSAPrivateKey) -> None:
    """PKCS#1 v1.5 signatures are deterministic and the server takes each one once."""
    now = [1718700548.2899999]
    auth = ServiceKeyAuth(SERVER, "frozen-kid", rsa_key, clock=lambda: now[0])
    other = ServiceKeyAuth(SERVER, "frozen-kid", rsa_key, clock=lambda: now[0])
    bodies = [exchange_body(a.exchange_request()[0]) for a in (auth, auth, other)]
    assert [b["timestamp"] for b in bodies] == [
        "2024-06-18T08:49:08.290+00:00",
        "2024-06-18T08:49:08.291+00:00",
        "2024-06-18T08:49:08.292+00:00",  # another object, the same key: still new
    ]
    assert len({b["signature"] for b in bodies}) == 3
    # Another key may use the same millisecond.
    third = ServiceKeyAuth(SERVER, "other-kid", rsa_key, clock=lambda: now[0])
    assert exchange_body(third.exchange_request()[0])["timestamp"].endswith("08.290+00:00")
    # A clock stepped back by more than a second is followed.
    now[0] -= 5
    assert exchange_body(auth.exchange_request()[0])["timestamp"].endswith("03.290+00:00")


def test_raw_der_ending_in_a_whitespace_byte_loads() -> None:
    """DER is binary: a key whose encoding happens to end in 0x20 or 0x0a (one in forty or
    so) must reach cryptography whole, not stripped like text."""
    for _ in range(3000):
        key = rsa.generate_private_key(65537, 1024)  # noqa: S505 - speed; only its bytes matter
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if der[-1:].isspace():
            break
    else:
        pytest.fail("no key with a trailing whitespace byte in 3000 tries")
    assert load_service_private_key(der).private_numbers() == key.private_numbers()
