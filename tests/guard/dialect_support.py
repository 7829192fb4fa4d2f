"""What the dialect tables share: the three entry points over one gate, credentials minted
by the real services, and the expected answer of a refusal in each dialect.

The three entry points (``ENTRIES``) are the adapters over :meth:`Gate.check
<propusk.guard.gate.Gate.check>`: the ASGI middleware in front of a stand-in app, the
FastAPI dependency in a small app of the test's own, and the server's forward-auth
(``/v1/authorize``, asked as nginx asks). All three use the server's own gate
(``services.gate``, over the catalog the settings name) unless a test passes another.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import defusedxml.ElementTree as safe_xml
import httpx
from fastapi import Depends, FastAPI
from joserfc import jwt
from starlette.types import Receive, Scope, Send

from propusk.core.catalog import MethodCatalog
from propusk.core.principals import Principal
from propusk.guard import Gate, GuardDependency, PropuskGuard, install
from propusk.services.audit import Origin
from propusk.wiring import Services
from tests.helpers import PASSWORD, signed_up
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import exchange, load_private, owner_with_org
from tests.web.signing_key_helpers import new_signing_key

Entry = Literal["middleware", "dependency", "forward-auth"]
ENTRIES: tuple[Entry, ...] = ("middleware", "dependency", "forward-auth")
CLIENT_IP = "203.0.113.7"  # the test clients' address (conftest's client fixture too)
BODY_CAP = 4096  # the middleware's and the dependency's cap on bodies read for signatures

CHALLENGE = 'Bearer realm="propusk"'
CHALLENGE_INVALID = 'Bearer realm="propusk", error="invalid_token"'
_RUSTORE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")


# -- expected answers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """One refusal on the wire: status, body (by dialect) and the headers that matter."""

    status: int
    dialect: str
    code: str | int | None  # Propusk's error code, the node's int, QIWI's result code
    message: str
    challenge: str | None = None  # WWW-Authenticate (Propusk's 401s only)
    retry_after: str | None = None


def P(
    status: int, code: str, message: str, challenge: str | None = None, retry: str | None = None
) -> Expect:
    """Propusk's ``{"error": <code>, "message": …}``."""
    return Expect(status, "propusk", code, message, challenge, retry)


def R(status: int, message: str, retry: str | None = None) -> Expect:
    """The RuStore envelope ``{"code": "ERROR", "message": …, "body": null, …}``."""
    return Expect(status, "rustore", None, message, None, retry)


def W(status: int, waves_id: int, message: str, retry: str | None = None) -> Expect:
    """A Waves node's ``{"error": <int>, "message": …}``."""
    return Expect(status, "waves", waves_id, message, None, retry)


def Q(status: int, code: int, message: str, retry: str | None = None) -> Expect:
    """The partner XML API's ``<response><result-code fatal="true" …>``."""
    return Expect(status, "qiwi-xml", code, message, None, retry)


def check(response: httpx.Response, expect: Expect, now: datetime) -> None:
    """``response`` is exactly ``expect``; ``now`` is the gate's clock (RuStore stamps)."""
    assert response.status_code == expect.status, response.text
    assert response.headers.get("www-authenticate") == expect.challenge, response.headers
    assert response.headers.get("retry-after") == expect.retry_after, response.headers
    assert response.headers.get("x-propusk-subject") is None  # a refusal says nobody
    if expect.dialect == "qiwi-xml":
        assert response.headers["content-type"] == "application/xml; charset=utf-8"
        root = safe_xml.fromstring(response.content)
        (result,) = list(root)
        assert (root.tag, result.tag) == ("response", "result-code")
        assert result.attrib == {"fatal": "true", "message": expect.message}
        assert result.text == str(expect.code)
        assert response.text == (
            '<?xml version="1.0" encoding="UTF-8"?><response><result-code fatal="true" '
            f'message="{expect.message}">{expect.code}</result-code></response>'
        )
        return
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if expect.dialect == "rustore":
        stamp = body.get("timestamp")
        assert isinstance(stamp, str) and _RUSTORE_TIME.fullmatch(stamp), body
        parsed = datetime.fromisoformat(stamp)
        assert parsed.utcoffset() is not None and parsed == now
        assert body == {
            "code": "ERROR",
            "message": expect.message,
            "body": None,
            "timestamp": stamp,
        }
    elif expect.dialect == "waves":
        assert isinstance(body["error"], int)
        assert body == {"error": expect.code, "message": expect.message}
    else:
        assert body == {"error": expect.code, "message": expect.message}


# -- the three entry points ---------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A client request: verb, path, headers (the credential) and body."""

    verb: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


async def stand_in(scope: Scope, receive: Receive, send: Send) -> None:
    """The protected app behind the middleware: reached only when the gate passes."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"passed":true}'})


def dependency_app(gate: Gate, catalog: MethodCatalog) -> FastAPI:
    """A resource API guarded route by route: ``Depends(GuardDependency(gate))`` on every
    catalog route, and ``install(app)`` to answer refusals in their dialect."""
    api = FastAPI()
    guard = GuardDependency(gate, max_body_bytes=BODY_CAP)

    # A default, not Annotated[...]: the annotation is a string here (future import) and
    # could not name the local ``guard``.
    async def endpoint(principal: Principal | None = Depends(guard)) -> dict[str, Any]:  # noqa: B008
        return {"passed": True, "subject": principal.subject if principal else None}

    routes = [*catalog.public, *(r for m in catalog.methods.values() for r in m.routes)]
    for route in routes:
        api.add_api_route(route.path, endpoint, methods=[route.verb])
    install(api)
    return api


@dataclass
class Entries:
    """Sends a :class:`Call` through one entry point. ``server`` is the Propusk app's
    client (forward-auth), ``server_app`` the app itself (to swap its gate)."""

    server: httpx.AsyncClient
    server_app: FastAPI
    services: Services

    async def send(self, entry: Entry, call: Call, gate: Gate | None = None) -> httpx.Response:
        gate = gate or self.services.gate
        if entry == "forward-auth":
            return await self._forward_auth(call, gate)
        app: Any = (
            PropuskGuard(stand_in, gate=gate, max_body_bytes=BODY_CAP)
            if entry == "middleware"
            else dependency_app(gate, gate.catalog)
        )
        transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            return await http.request(
                call.verb, call.path, headers=dict(call.headers), content=call.body
            )

    async def _forward_auth(self, call: Call, gate: Gate) -> httpx.Response:
        # What nginx's auth_request sends: the original verb and URI, the client's headers,
        # no body.
        headers = {"X-Original-Method": call.verb, "X-Original-URI": call.path, **call.headers}
        state = self.server_app.state
        saved, state.gate = state.gate, gate
        try:
            return await self.server.get("/v1/authorize", headers=headers)
        finally:
            state.gate = saved


# -- credentials, minted by the real services -----------------------------------------------


def tampered(token: str, part: int) -> str:
    """``token`` with one character of its ``part`` (dot-separated) changed."""
    parts = token.split(".")
    middle = len(parts[part]) // 2
    char = "A" if parts[part][middle] != "A" else "B"
    parts[part] = parts[part][:middle] + char + parts[part][middle + 1 :]
    return ".".join(parts)


class Kit:
    """Makes the credentials a cell needs, through the server's own API and services."""

    _emails = itertools.count()

    def __init__(
        self, client: httpx.AsyncClient, mailbox: Mailbox, services: Services, clock: ManualClock
    ) -> None:
        self.client = client
        self.mailbox = mailbox
        self.services = services
        self.clock = clock
        self._org: tuple[dict[str, str], str, list[str]] | None = None
        self._subject: str | None = None  # the account minted tokens name

    def _email(self) -> str:
        return f"dialect-{next(self._emails)}@example.com"

    async def user_token(self) -> str:
        """An access token of a new account with the default role (``user``)."""
        tokens = await signed_up(self.client, self.mailbox, self._email())
        return str(tokens["access_token"])

    async def token_with_roles(self, *roles: str) -> str:
        """An access token of a new account holding ``roles`` (``user`` is always kept)."""
        email = self._email()
        await signed_up(self.client, self.mailbox, email)
        accounts = self.services.accounts
        await accounts.set_roles(None, await accounts.find_id_by_email(email), roles, Origin())
        r = await self.client.post("/v1/auth/login", json={"username": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def _minted_subject(self) -> str:
        if self._subject is None:
            email = self._email()
            await signed_up(self.client, self.mailbox, email)
            self._subject = await self.services.accounts.find_id_by_email(email)
        return self._subject

    async def minted(self, **claims: Any) -> str:
        """A JWT signed with the server's own signing key, with ``claims`` over sound
        defaults: how a token with malformed claims (but a valid signature) is made."""
        key = await self.services.keyring.signing_key()
        now = int(self.clock.now().timestamp())
        body: dict[str, Any] = {
            "iss": self.services.settings.issuer,
            # A real account: verification checks the account behind a token as it is now.
            "sub": await self._minted_subject(),
            "roles": [],
            "addresses": [],
            "iat": now,
            "exp": now + 600,
            "jti": f"minted-{now}",
            **claims,
        }
        return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.kid}, body, key)

    async def org(self) -> tuple[dict[str, str], str, list[str]]:
        """An owner's Bearer headers, its organization and one app (made once)."""
        if self._org is None:
            self._org = await owner_with_org(self.client, self.mailbox, self._email(), apps=1)
        return self._org

    async def service_token(self, methods: list[str]) -> tuple[str, str]:
        """A Public-Token of a new service key scoped to the org's app and ``methods``;
        returns the token and that app's id."""
        owner, org, (app,) = await self.org()
        r = await self.client.post(
            f"/v1/orgs/{org}/service-keys",
            json={"name": "dialects", "appIds": [app], "methods": methods},
            headers=owner,
        )
        assert r.status_code == 201, r.text
        created = r.json()
        key = load_private(created["privateKey"])
        answer = await exchange(self.client, created["keyId"], key, self.clock.now())
        assert answer.status_code == 200, answer.text
        return str(answer.json()["body"]["jwe"]), app

    async def signing_key(self, methods: list[str], **options: Any) -> dict[str, Any]:
        """A partner's signing key (the PARTNER pair) with login ``shop-1``."""
        owner, org, _ = await self.org()
        return await new_signing_key(
            self.client, owner, org, login="shop-1", methods=methods, **options
        )


@asynccontextmanager
async def failing_jwks_client() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for which the authorization server is down (no network used)."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        yield http


__all__ = [
    "BODY_CAP",
    "CHALLENGE",
    "CHALLENGE_INVALID",
    "CLIENT_IP",
    "ENTRIES",
    "Call",
    "Entries",
    "Entry",
    "Expect",
    "Kit",
    "P",
    "Q",
    "R",
    "W",
    "check",
    "dependency_app",
    "failing_jwks_client",
    "stand_in",
    "tampered",
]
