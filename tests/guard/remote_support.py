"""What the remote-mode tests share: the real Propusk app behind a switchable transport,
a pair of clocks that move together, and credentials made through the real API."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from propusk.core import digital_sign
from propusk.guard.remote import RemoteIntrospection
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import exchange, load_private, owner_with_org
from tests.web.signing_key_helpers import PARTNER, new_signing_key

SERVER = "http://testserver"
INTROSPECTOR = "rs@example.com"


class Switch(httpx.AsyncBaseTransport):
    """The real app, with the introspection endpoint behind a switch: ``down`` makes it
    unreachable, ``forced`` answers in its place; ``asked`` counts the calls to it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.asked = 0
        self.down = False
        self.forced: Callable[[], httpx.Response] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/introspect":
            self.asked += 1
            if self.down:
                raise httpx.ConnectError("connection refused", request=request)
            if self.forced is not None:
                return self.forced()
        return await self.inner.handle_async_request(request)


class Clocks:
    """The remote guard's monotonic clock and both parties' wall clock, moved together."""

    def __init__(self, wall: ManualClock) -> None:
        self.wall_clock = wall
        self.mono = 1_000.0

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_clock.now().timestamp()

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_clock.advance(seconds)


def make_remote(
    http: httpx.AsyncClient, auth: httpx.Auth, clocks: Clocks, **options: float
) -> RemoteIntrospection:
    return RemoteIntrospection(
        f"{SERVER}/v1/introspect",
        auth=auth,
        client=http,
        clock=clocks.monotonic,
        wall_clock=clocks.wall,
        **options,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Credentials:
    """One of each credential kind, for one organization with two apps."""

    owner: dict[str, str]
    org: str
    apps: list[str]
    service_key: str
    public_token: str
    api_key_id: str
    api_key: str
    signing_key: str
    access_token: str


async def credentials(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock, email: str, **signing: object
) -> Credentials:
    owner, org, apps = await owner_with_org(client, mailbox, email)
    r = await client.post(
        f"/v1/orgs/{org}/service-keys",
        json={"name": "ci", "methods": ["apps.read", "reviews.read"], "appIds": apps[:1]},
        headers=owner,
    )
    assert r.status_code == 201, r.text
    service_key = r.json()["keyId"]
    token = await exchange(client, service_key, load_private(r.json()["privateKey"]), clock.now())
    assert token.status_code == 200, token.text
    r = await client.post(
        f"/v1/orgs/{org}/api-keys",
        json={"name": "deploy", "methods": ["reports.read", "apps.read"], "appIds": apps},
        headers=owner,
    )
    assert r.status_code == 201, r.text
    api_key = r.json()
    signing_key = await new_signing_key(client, owner, org, login="shop-1", **signing)
    return Credentials(
        owner=owner,
        org=org,
        apps=apps,
        service_key=service_key,
        public_token=token.json()["body"]["jwe"],
        api_key_id=api_key["keyId"],
        api_key=api_key["key"],
        signing_key=signing_key["keyId"],
        access_token=owner["Authorization"].removeprefix("Bearer "),
    )


def signature_headers(body: bytes, login: str = "shop-1") -> dict[str, str]:
    signature = base64.b64encode(digital_sign.sign("SHA256withRSA", PARTNER, body)).decode()
    return {
        "x-digital-sign": signature,
        "x-digital-sign-alg": "SHA256withRSA",
        "x-digital-sign-login": login,
        "content-type": "text/xml",
    }
