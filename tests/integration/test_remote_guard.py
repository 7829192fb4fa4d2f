"""Remote mode end to end: a real ``propusk serve`` and, in another process, a Starlette
resource API guarded by ``remote_gate`` (tests/integration/remote_api.py). Each of
Public-Token, X-API-Key, Bearer and X-Digital-Sign passes with the right principal and is
refused in its dialect when forged; a credential revoked, disabled or deleted on the server
is refused by the resource API within its revocation delay; with the server gone, a
credential that must be asked about gets 503 while JWKS-verified tokens keep passing."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from propusk.demo import DEMO_CATALOG
from tests.integration.provision import cli
from tests.integration.provision import provision as provision_org
from tests.integration.servers import free_port, propusk_env, propusk_server, running
from tests.web.signing_key_helpers import signed, xml_body

pytestmark = pytest.mark.external

ROOT = Path(__file__).resolve().parents[2]
OWNER = "remote-owner@example.com"
INTROSPECTOR = "remote-rs@example.com"
PASSWORD = "integration pass"
DELAY = 0.5  # the resource API's revocation delay, seconds
DEADLINE = 5.0  # how long a revoked credential may take to be refused here (DELAY + slack)
XML = xml_body(terminal="20002", extra="<amount>5</amount>")


@dataclass
class World:
    server: str
    api: str
    owner: dict[str, str]
    account: str
    org: str
    app: str
    service_key: str
    public_token: str
    api_key_id: str
    api_key: str
    signing_key: str
    stop_server: Callable[[], None]


def provision(server: str, data: Path) -> dict[str, str]:
    """On the server: an owner with an org, an app and one credential of each kind; an
    account for the resource API holding only the introspect role."""
    env = propusk_env(data)
    cli(env, "admin", "create", "--email", INTROSPECTOR, "--password", PASSWORD)
    cli(env, "admin", "set-roles", INTROSPECTOR, "user", "introspect")
    return provision_org(server, env, owner=OWNER, password=PASSWORD, login="shop-remote")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("remote-guard")
    with ExitStack() as stack:
        server_stack = stack.enter_context(ExitStack())
        server = server_stack.enter_context(propusk_server(tmp))
        made = provision(server, tmp / "data")
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        env = {
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "REMOTE_PROPUSK_URL": server,
            "REMOTE_INTROSPECT_EMAIL": INTROSPECTOR,
            "REMOTE_INTROSPECT_PASSWORD": PASSWORD,
            "REMOTE_CATALOG": str(DEMO_CATALOG),
            "REMOTE_REVOCATION_DELAY": str(DELAY),
            "REMOTE_JWKS": "1",
        }
        args = [sys.executable, "-m", "uvicorn", "tests.integration.remote_api:app"]
        args += ["--host", "127.0.0.1", "--port", str(port), "--app-dir", str(ROOT)]
        stack.enter_context(running(args, f"{api}/demo/health", tmp / "remote-api.log", env))
        yield World(
            server=server,
            api=api,
            owner={"Authorization": f"Bearer {made['token']}"},
            account=made["account"],
            org=made["org"],
            app=made["app"],
            service_key=made["service_key"],
            public_token=made["public_token"],
            api_key_id=made["api_key_id"],
            api_key=made["api_key"],
            signing_key=made["signing_key"],
            stop_server=server_stack.close,
        )


def call(
    world: World, verb: str, path: str, headers: dict[str, str], body: bytes = b""
) -> httpx.Response:
    return httpx.request(verb, f"{world.api}{path}", headers=headers, content=body, timeout=10)


def credentials(world: World) -> dict[str, tuple[str, str, dict[str, str], bytes]]:
    """Each kind: the request that carries it, on a route its scope allows."""
    public_token = {"Public-Token": world.public_token}
    return {
        "service-key": ("GET", f"/demo/apps/{world.app}", public_token, b""),
        "api-key": ("GET", "/demo/reports", {"X-API-Key": world.api_key}, b""),
        "bearer": ("GET", "/demo/reports", world.owner, b""),
        "signature": ("POST", "/demo/payments/topup", partner_signed(XML), XML),
    }


def partner_signed(body: bytes) -> dict[str, str]:
    return signed(body, X_Digital_Sign_Login="shop-remote")


def refused_within(world: World, kind: str, deadline: float = DEADLINE) -> httpx.Response:
    """Poll until the resource API refuses ``kind``; a bounded loop, not a timing claim."""
    verb, path, headers, body = credentials(world)[kind]
    end = time.monotonic() + deadline
    while True:
        r = call(world, verb, path, headers, body)
        if r.status_code != 200 or time.monotonic() > end:
            return r
        time.sleep(0.05)


def test_every_credential_passes_with_its_principal(world: World) -> None:
    subjects = {
        "service-key": world.service_key,
        "api-key": world.api_key_id,
        "signature": world.signing_key,
        "bearer": world.account,
    }
    for kind, (verb, path, headers, body) in credentials(world).items():
        r = call(world, verb, path, headers, body)
        assert r.status_code == 200, (kind, r.text)
        seen = r.json()
        assert seen["method"] == kind
        assert seen["subject"] == subjects[kind]
        if kind == "bearer":
            assert seen["kind"] == "account" and seen["org"] is None
        else:
            assert seen["org"] == world.org
        if kind == "signature":
            assert seen["bytes"] == len(XML)  # the guard read the body and replayed it


def test_forged_credentials_are_refused_in_their_dialect(world: World) -> None:
    r = call(world, "GET", f"/demo/apps/{world.app}", {"Public-Token": "garbage"})
    assert r.status_code == 401 and r.json()["code"] == "ERROR" and r.json()["body"] is None
    r = call(world, "GET", "/demo/reports", {"X-API-Key": "propusk_" + "0" * 81})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    r = call(world, "GET", "/demo/reports", {"Authorization": "Bearer a.b.c"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    forged = {**partner_signed(XML), "X-Digital-Sign": "AAAA"}
    r = call(world, "POST", "/demo/payments/topup", forged, XML)
    assert ">150</result-code>" in r.text
    # No credential at all, and a credential out of its scope.
    assert call(world, "GET", "/demo/reports", {}).status_code == 401
    r = call(world, "GET", f"/demo/apps/{world.app}", {"X-API-Key": world.api_key})
    assert r.status_code == 403


def test_revoked_credentials_are_refused_within_the_delay(world: World) -> None:
    # Fresh positive answers in the resource API's cache, so the refusals below must
    # wait out the delay rather than find the cache already empty.
    for kind in ("service-key", "api-key", "signature"):
        verb, path, headers, body = credentials(world)[kind]
        assert call(world, verb, path, headers, body).status_code == 200
    base = f"{world.server}/v1/orgs/{world.org}"
    with httpx.Client(headers=world.owner, timeout=10) as http:
        assert http.post(f"{base}/service-keys/{world.service_key}/disable").status_code == 200
        assert http.post(f"{base}/api-keys/{world.api_key_id}/revoke").status_code == 200
        assert http.delete(f"{base}/signing-keys/{world.signing_key}").status_code == 204
    public_token = refused_within(world, "service-key")
    assert public_token.status_code == 401 and public_token.json()["code"] == "ERROR"
    api_key = refused_within(world, "api-key")
    assert api_key.status_code == 401 and api_key.json()["error"] == "invalid_token"
    signature = refused_within(world, "signature")
    assert ">150</result-code>" in signature.text
    # An account access token is self-contained: it passes until its exp (docs).
    assert call(world, "GET", "/demo/reports", world.owner).status_code == 200


def test_without_the_server_asking_is_503_and_jwks_tokens_still_pass(world: World) -> None:
    world.stop_server()
    r = call(world, "GET", f"/demo/apps/{world.app}", {"Public-Token": "never-seen-before"})
    assert r.status_code == 503 and r.json()["code"] == "ERROR"
    assert r.headers["retry-after"] == "1"
    r = call(world, "GET", "/demo/reports", {"X-API-Key": "propusk_" + "1" * 81})
    assert r.status_code == 503 and r.json()["error"] == "auth_unavailable"
    # The JWKS keys fetched earlier still verify account tokens (stale-if-error).
    assert call(world, "GET", "/demo/reports", world.owner).status_code == 200
