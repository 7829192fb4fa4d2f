"""Every refusal in every dialect, from all three entry points (docs/dialects.md).

The table is dialect by refusal: each cell is one request (a route of that dialect in
``dialects.toml`` with one credential), sent through the guard middleware, the FastAPI
dependency and forward-auth, and the exact answer each gives. The middleware and the
dependency answer alike; forward-auth differs only where the docs say so: it never sees a
body (signed requests and XML passwords cannot be checked there) and it answers 401 or
403 only.

Credentials are real: accounts, service keys and signing keys made through the server's
API, tokens signed by its keyring. Two refusals no verifier of the server can produce here
use verifiers of the test's own over the same catalog: "too many attempts" (429) and an
unreachable authorization server (503, the real JWKS verifier with the network down).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import httpx
import pytest
from fastapi import FastAPI

from propusk.core.catalog import Dialect
from propusk.core.errors import TooManyAttempts
from propusk.core.hashes import base58_encode, secure_hash
from propusk.core.principals import Principal
from propusk.guard import BearerToken, Gate, JWKSVerifier, RequestView
from propusk.wiring import Services
from tests.guard.dialect_support import (
    BODY_CAP,
    CHALLENGE,
    CHALLENGE_INVALID,
    ENTRIES,
    Call,
    Entries,
    Entry,
    Expect,
    Kit,
    P,
    Q,
    R,
    W,
    check,
    failing_jwks_client,
    tampered,
)
from tests.support import Mailbox, ManualClock
from tests.web.signing_key_helpers import OTHER, signed, xml_body

CATALOG = Path(__file__).with_name("dialects.toml")

ROUTES = {
    "propusk": ("/p/reports", "p.reports"),
    "rustore": ("/r/apps/{app}/reviews", "r.reviews"),
    "waves": ("/w/privacy/sendData", "w.send"),
    "qiwi-xml": ("/q/payments/topup", "q.topup"),
    "none": ("/any/things", "any.things"),
}

# What the refusals say (Propusk's messages, which every dialect but the node's carries).
UNAUTHENTICATED = "Authentication is required"
INVALID = "The token is invalid"
EXPIRED = "The token has expired"
NOT_ALLOWED = "Not allowed"
BAD_SIGNATURE = "The request signature is not valid"
BAD_PASSWORD = "The terminal or its password is not valid"
BLOCKED = "Requests from this address are not allowed for this partner"
THROTTLED = "Too many attempts, try again later"
DOWN = "The authorization server cannot be reached"
BAD_XML = "The request body is not acceptable XML"
TOO_LARGE = "The request body is too large"
NEEDS_BODY = "Signed requests need the embedded guard: the request body is not available"
# A Waves node's own texts (we-node ApiError.scala), exactly.
W618 = "Authorization error. Missing authorization metadata"
W619 = "Authorization error. Token expired"
W620 = "Authorization error. Can't parse JWT token claims"
W621_PRIVACY = "Authorization error. No expected role 'PrivacyUser' "
W622 = "Authorization error. Invalid token"
W614 = "Provided privacy API key is not correct"
W2 = "Provided API key is not correct"

Refusal = Literal[
    "missing",
    "invalid",
    "expired",
    "out-of-scope",
    "bad-claims",
    "address-blocked",
    "throttled",
    "unavailable",
    "bad-body",
]
Credential = Literal[
    "none", "bearer", "public-token", "api-key", "signature", "password", "throttled"
]


@dataclass(frozen=True)
class Cell:
    """One request and its answer: ``embedded`` from the middleware and the dependency,
    ``forward`` from forward-auth (None: the same)."""

    dialect: str
    refusal: Refusal
    credential: Credential
    embedded: Expect
    forward: Expect | None = None

    @property
    def id(self) -> str:
        return f"{self.dialect}/{self.refusal}/{self.credential}"

    def expect(self, entry: Entry) -> Expect:
        if entry == "forward-auth" and self.forward is not None:
            return self.forward
        return self.embedded


FORBIDDEN = P(403, "forbidden", NOT_ALLOWED)  # forward-auth's answer for Propusk's other statuses

CELLS = [
    # -- propusk: {"error": <code>, "message": …}, the challenge on every 401 ----------------
    Cell("propusk", "missing", "none", P(401, "unauthenticated", UNAUTHENTICATED, CHALLENGE)),
    Cell("propusk", "invalid", "bearer", P(401, "invalid_token", INVALID, CHALLENGE_INVALID)),
    Cell("propusk", "expired", "bearer", P(401, "token_expired", EXPIRED, CHALLENGE_INVALID)),
    Cell("propusk", "out-of-scope", "bearer", P(403, "forbidden", NOT_ALLOWED)),
    Cell("propusk", "bad-claims", "bearer", P(401, "invalid_token", INVALID, CHALLENGE_INVALID)),
    Cell("propusk", "address-blocked", "signature", P(403, "address_blocked", BLOCKED), FORBIDDEN),
    Cell(
        "propusk",
        "throttled",
        "throttled",
        P(429, "too_many_attempts", THROTTLED, retry="30"),
        FORBIDDEN,
    ),
    # An outage passes forward-auth as a 503 too: a proxy must tell "retry" from "refused".
    Cell("propusk", "unavailable", "bearer", P(503, "auth_unavailable", DOWN, retry="2")),
    Cell("propusk", "bad-body", "signature", P(413, "payload_too_large", TOO_LARGE), FORBIDDEN),
    # -- rustore: the envelope, whatever the refusal -----------------------------------------
    Cell("rustore", "missing", "none", R(401, UNAUTHENTICATED)),
    Cell("rustore", "invalid", "public-token", R(401, INVALID)),
    Cell("rustore", "expired", "public-token", R(401, EXPIRED)),
    Cell("rustore", "out-of-scope", "public-token", R(403, NOT_ALLOWED)),
    Cell("rustore", "bad-claims", "bearer", R(401, INVALID)),
    Cell("rustore", "address-blocked", "signature", R(403, BLOCKED), R(403, NEEDS_BODY)),
    Cell(
        "rustore",
        "throttled",
        "throttled",
        R(429, THROTTLED, retry="30"),
        R(403, THROTTLED, retry="30"),
    ),
    Cell("rustore", "unavailable", "bearer", R(503, DOWN, retry="2")),
    Cell("rustore", "bad-body", "signature", R(413, TOO_LARGE), R(403, NEEDS_BODY)),
    # -- waves: the node's bodies for credentials; Propusk's for the rest --------------------
    Cell("waves", "missing", "none", W(401, 618, W618)),
    Cell("waves", "invalid", "bearer", W(401, 622, W622)),
    Cell("waves", "invalid", "api-key", W(403, 614, W614)),
    Cell("waves", "invalid", "public-token", W(401, 622, W622)),
    Cell("waves", "expired", "bearer", W(401, 619, W619)),
    Cell("waves", "out-of-scope", "bearer", W(403, 621, W621_PRIVACY)),
    # A node answers unparseable claims with 400; proxies are told 403, the body is the same.
    Cell("waves", "bad-claims", "bearer", W(400, 620, W620), W(403, 620, W620)),
    # The node has no "blocked address": any 403 about the caller is its 621.
    Cell("waves", "address-blocked", "signature", W(403, 621, W621_PRIVACY), FORBIDDEN),
    Cell(
        "waves",
        "throttled",
        "throttled",
        P(429, "too_many_attempts", THROTTLED, retry="30"),
        FORBIDDEN,
    ),
    # An outage is the node's own 503, HealthCheckError (640), with Propusk's text.
    Cell("waves", "unavailable", "bearer", W(503, 640, DOWN, retry="2")),
    Cell("waves", "bad-body", "signature", P(413, "payload_too_large", TOO_LARGE), FORBIDDEN),
    # -- qiwi-xml: <result-code fatal="true" message="…">N</result-code> --------------------
    Cell("qiwi-xml", "missing", "none", Q(401, 150, UNAUTHENTICATED)),
    Cell("qiwi-xml", "invalid", "signature", Q(401, 150, BAD_SIGNATURE), Q(403, 300, NEEDS_BODY)),
    # Forward-auth never sees the body, so it finds no password at all.
    Cell(
        "qiwi-xml", "invalid", "password", Q(401, 150, BAD_PASSWORD), Q(401, 150, UNAUTHENTICATED)
    ),
    Cell("qiwi-xml", "invalid", "bearer", Q(401, 150, INVALID)),
    Cell("qiwi-xml", "expired", "bearer", Q(401, 150, EXPIRED)),
    Cell(
        "qiwi-xml", "out-of-scope", "signature", Q(403, 150, NOT_ALLOWED), Q(403, 300, NEEDS_BODY)
    ),
    Cell("qiwi-xml", "out-of-scope", "bearer", Q(403, 150, NOT_ALLOWED)),
    Cell("qiwi-xml", "bad-claims", "bearer", Q(401, 150, INVALID)),
    Cell("qiwi-xml", "address-blocked", "signature", Q(403, 339, BLOCKED), Q(403, 300, NEEDS_BODY)),
    Cell(
        "qiwi-xml",
        "address-blocked",
        "password",
        Q(403, 339, BLOCKED),
        Q(401, 150, UNAUTHENTICATED),
    ),
    Cell(
        "qiwi-xml",
        "throttled",
        "throttled",
        Q(429, 13, THROTTLED, retry="30"),
        Q(403, 13, THROTTLED, retry="30"),
    ),
    Cell("qiwi-xml", "unavailable", "bearer", Q(503, 13, DOWN, retry="2")),
    Cell("qiwi-xml", "bad-body", "password", Q(400, 300, BAD_XML), Q(401, 150, UNAUTHENTICATED)),
    Cell("qiwi-xml", "bad-body", "signature", Q(413, 300, TOO_LARGE), Q(403, 300, NEEDS_BODY)),
    # -- a route that names no dialect: the credential decides -------------------------------
    Cell("none", "missing", "none", P(401, "unauthenticated", UNAUTHENTICATED, CHALLENGE)),
    Cell("none", "invalid", "bearer", P(401, "invalid_token", INVALID, CHALLENGE_INVALID)),
    Cell("none", "invalid", "public-token", R(401, INVALID)),
    Cell("none", "out-of-scope", "public-token", R(403, NOT_ALLOWED)),
    Cell(
        "none",
        "invalid",
        "api-key",
        P(401, "invalid_token", "The API key is not valid", CHALLENGE_INVALID),
    ),
    Cell(
        "none",
        "invalid",
        "signature",
        P(401, "invalid_signature", BAD_SIGNATURE, CHALLENGE),
        FORBIDDEN,
    ),
]


class Throttled:
    """A credential kind whose back end says "too many attempts": no verifier of the
    server answers 429 to a request, so this one stands in for any that would."""

    method: Literal["bearer"] = "bearer"
    dialect: Dialect | None = None

    def present(self, request: RequestView) -> bool:
        return "x-test-throttled" in request.headers

    def wants_body(self, request: RequestView) -> bool:
        return False

    async def verify(self, request: RequestView) -> Principal:
        raise TooManyAttempts(30)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"method_catalog": CATALOG, "forward_auth_clients": ["203.0.113.0/24"]}


@pytest.fixture
def entries(client: httpx.AsyncClient, app: FastAPI, services: Services) -> Entries:
    return Entries(client, app, services)


@pytest.fixture
def kit(client: httpx.AsyncClient, mailbox: Mailbox, services: Services, clock: ManualClock) -> Kit:
    return Kit(client, mailbox, services, clock)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as resources:
        yield resources


def json_or_xml(dialect: str, **xml: Any) -> bytes:
    return xml_body(**xml) if dialect == "qiwi-xml" else b'{"amount": 1}'


async def scenario(
    cell: Cell, kit: Kit, services: Services, clock: ManualClock, stack: AsyncExitStack
) -> tuple[Call, Gate | None]:
    """The request of ``cell`` with its credential made for it, and the gate to ask
    (None: the server's own)."""
    path, method = ROUTES[cell.dialect]
    app = "app-1"
    headers: dict[str, str] = {}
    body = json_or_xml(cell.dialect)
    gate: Gate | None = None
    match (cell.refusal, cell.credential):
        case ("missing", "none"):
            pass  # on XML routes: a body with a terminal but no password
        case ("invalid", "bearer"):
            headers = {"Authorization": f"Bearer {tampered(await kit.user_token(), 2)}"}
        case ("invalid", "public-token"):
            token, app = await kit.service_token([method])
            headers = {"Public-Token": tampered(token, 3)}  # the ciphertext
        case ("invalid", "api-key"):
            headers = {"X-API-Key": "propusk_" + "0" * 16 + "_" + "f" * 64}
        case ("invalid", "signature"):
            await kit.signing_key([method])
            headers = signed(body, key=OTHER, X_Digital_Sign_Login="shop-1")
        case ("invalid", "password"):
            await kit.signing_key([method], terminalId="10001", password="terminal pass")
            body = xml_body("10001", password="wrong pass")
        case ("expired", "bearer"):
            headers = {"Authorization": f"Bearer {await kit.user_token()}"}
            clock.advance(services.settings.access_token_ttl + 1)
        case ("expired", "public-token"):
            token, app = await kit.service_token([method])
            headers = {"Public-Token": token}
            clock.advance(services.settings.service_token_ttl + 1)
        case ("out-of-scope", "bearer"):
            headers = {"Authorization": f"Bearer {await kit.user_token()}"}  # holds "other"
        case ("out-of-scope", "public-token"):
            token, app = await kit.service_token(["other"])
            headers = {"Public-Token": token}
        case ("out-of-scope", "signature"):
            await kit.signing_key(["other"])
            headers = signed(body, X_Digital_Sign_Login="shop-1")
        case ("bad-claims", "bearer"):
            # Signed by the server's own key, so only the claims are wrong.
            headers = {"Authorization": f"Bearer {await kit.minted(roles='admin')}"}
        case ("address-blocked", "signature"):
            await kit.signing_key([method], allowedIps=["198.51.100.0/24"])
            headers = signed(body, X_Digital_Sign_Login="shop-1")
        case ("address-blocked", "password"):
            await kit.signing_key(
                [method],
                terminalId="10001",
                password="terminal pass",
                allowedIps=["198.51.100.0/24"],
            )
            body = xml_body("10001", password="terminal pass")
        case ("throttled", "throttled"):
            gate = Gate(
                catalog=services.catalog,
                verifiers=[Throttled()],
                clock=lambda: clock.now().timestamp(),
            )
            headers = {"X-Test-Throttled": "1"}
        case ("unavailable", "bearer"):
            http = await stack.enter_async_context(failing_jwks_client())
            jwks = JWKSVerifier(
                "http://auth.invalid/.well-known/jwks.json", issuer="x", client=http
            )
            gate = Gate(
                catalog=services.catalog,
                verifiers=[BearerToken(jwks)],
                clock=lambda: clock.now().timestamp(),
            )
            headers = {"Authorization": f"Bearer {await kit.user_token()}"}
        case ("bad-body", "password"):
            body = b"<request><terminal-id>10001</terminal-id>"  # never closed
        case ("bad-body", "signature"):
            await kit.signing_key([method])
            body = b"x" * (BODY_CAP * 2)
            headers = signed(body, X_Digital_Sign_Login="shop-1")
        case _:
            raise AssertionError(f"no scenario for {cell.id}")
    return Call("POST", path.format(app=app), headers, body), gate


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
async def test_refusal(
    cell: Cell,
    entry: Entry,
    entries: Entries,
    kit: Kit,
    services: Services,
    clock: ManualClock,
    stack: AsyncExitStack,
) -> None:
    call, gate = await scenario(cell, kit, services, clock, stack)
    check(await entries.send(entry, call, gate), cell.expect(entry), clock.now())


def test_the_table_has_every_cell() -> None:
    # Four dialects, each with every refusal: a missing row fails here, not silently.
    refusals = set(get_args(Refusal))
    for dialect in ("propusk", "rustore", "waves", "qiwi-xml"):
        assert {c.refusal for c in CELLS if c.dialect == dialect} == refusals, dialect
    assert len({c.id for c in CELLS}) == len(CELLS)


@pytest.mark.parametrize("entry", ENTRIES)
async def test_the_right_credential_passes_every_route(
    entry: Entry, entries: Entries, kit: Kit, services: Services
) -> None:
    """The control: what the table refuses is the credential, not the route."""
    admin = await kit.token_with_roles("admin")
    for dialect, (path, _) in ROUTES.items():
        call = Call("POST", path.format(app="app-1"), {"Authorization": f"Bearer {admin}"})
        r = await entries.send(entry, call)
        assert r.status_code == 200, (dialect, r.text)
    public = await entries.send(entry, Call("GET", "/health"))
    assert public.status_code == 200


@pytest.mark.parametrize("entry", ["middleware", "dependency"])
async def test_signed_and_scoped_credentials_pass_embedded(
    entry: Entry, entries: Entries, kit: Kit
) -> None:
    # Body credentials pass the embedded guard (forward-auth cannot check them: above).
    await kit.signing_key(["q.topup"])
    body = xml_body()
    call = Call("POST", "/q/payments/topup", signed(body, X_Digital_Sign_Login="shop-1"), body)
    assert (await entries.send(entry, call)).status_code == 200
    token, app = await kit.service_token(["r.reviews"])
    call = Call("POST", f"/r/apps/{app}/reviews", {"Public-Token": token})
    assert (await entries.send(entry, call)).status_code == 200


class TestNodeStyleKeysAnswerAsANode:
    """With ``waves_errors`` and a configured hash, node-style keys speak the node's
    dialect on routes that name none, and so does a request with no credential at all
    (a node in API-key mode answers a missing key with its error 2)."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "method_catalog": CATALOG,
            "forward_auth_clients": ["203.0.113.0/24"],
            "api_key_hash": base58_encode(secure_hash(b"the node's admin key")),
            "waves_errors": True,
        }

    @pytest.mark.parametrize("entry", ENTRIES)
    async def test_the_credential_decides(self, entry: Entry, entries: Entries, kit: Kit) -> None:
        node_error = W(403, 2, W2)
        for headers, expect in [
            ({}, node_error),
            ({"X-API-Key": "wrong"}, node_error),
            # Other credentials keep their own dialect.
            (
                {"Authorization": "Bearer x.y.z"},
                P(401, "invalid_token", INVALID, CHALLENGE_INVALID),
            ),
        ]:
            r = await entries.send(entry, Call("POST", "/any/things", headers, b"{}"))
            check(r, expect, kit.clock.now())
        # A route's own dialect wins over the credential's.
        r = await entries.send(entry, Call("POST", "/p/reports", {"X-API-Key": "wrong"}, b"{}"))
        check(r, P(401, "invalid_api_key", "The API key is invalid", CHALLENGE), kit.clock.now())
        r = await entries.send(entry, Call("POST", "/r/apps/a/reviews", {}, b"{}"))
        check(r, R(401, UNAUTHENTICATED), kit.clock.now())


class TestXmlRefusalsWithHttp200:
    """``qiwi_errors_http_200``: the embedded guard answers XML-API refusals with 200 (the
    original clients retry anything else); forward-auth never does, since a 200 there is
    how a proxy learns that a request may pass."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "method_catalog": CATALOG,
            "forward_auth_clients": ["203.0.113.0/24"],
            "qiwi_errors_http_200": True,
        }

    @pytest.mark.parametrize("entry", ENTRIES)
    async def test_status(self, entry: Entry, entries: Entries, kit: Kit) -> None:
        r = await entries.send(entry, Call("POST", "/q/payments/topup", {}, xml_body()))
        status = 401 if entry == "forward-auth" else 200
        check(r, Q(status, 150, UNAUTHENTICATED), kit.clock.now())
        # Other dialects keep their status.
        r = await entries.send(entry, Call("POST", "/p/reports", {}, b"{}"))
        check(r, P(401, "unauthenticated", UNAUTHENTICATED, CHALLENGE), kit.clock.now())
