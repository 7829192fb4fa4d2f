"""Debian's nginx in front of a stand-in Waves node, asking a real Propusk server that runs
the Waves node catalog: the tested example docs/examples/nginx-waves-node.conf.

What is checked is what reaches the *client* through nginx: the node's own refusal bodies
(618, 621, 622, and 620 with the 403 that forward-auth gives proxies), passed on by the
config's second question (``@propusk_refusal``), and the node's answers when Propusk lets
a request through.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from joserfc import jwt as jose_jwt

from propusk.config import load_settings
from propusk.demo import WAVES_NODE_CATALOG
from propusk.wiring import build_services
from tests.integration.servers import BIN, free_port, need, propusk_server, running
from tests.integration.test_nginx import nginx_config

pytestmark = pytest.mark.external

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "nginx-waves-node.conf"
PASSWORD = "integration pass"
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Stack:
    front: str  # nginx
    propusk: str
    data_dir: Path


def cli(data_dir: Path, *args: str) -> None:
    subprocess.run(
        [str(BIN / "propusk"), "--data-dir", str(data_dir), *args],
        check=True,
        capture_output=True,
        env={
            "PROPUSK_ARGON2_TIME_COST": "1",
            "PROPUSK_ARGON2_MEMORY_KIB": "1024",
            "PATH": "/usr/bin:/bin",
        },
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx = need("nginx", "nginx-light")
    tmp = tmp_path_factory.mktemp("nginx-waves")
    node_port = free_port()
    listen = free_port()
    with propusk_server(tmp, PROPUSK_METHOD_CATALOG=str(WAVES_NODE_CATALOG)) as propusk:
        data = tmp / "data"
        cli(data, "admin", "create", "--email", "ops@example.com", "--password", PASSWORD)
        cli(data, "admin", "create", "--email", "privacy@example.com", "--password", PASSWORD)
        cli(data, "admin", "set-roles", "privacy@example.com", "privacy")
        node = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "propusk.demo.waves_node:create_stand_in_node",
            "--host",
            "127.0.0.1",
            "--port",
            str(node_port),
        ]
        with running(node, f"http://127.0.0.1:{node_port}/node/status", tmp / "node.log"):
            template = EXAMPLE.read_text().replace("__NODE__", "__UPSTREAM__")
            conf = nginx_config(tmp, listen, propusk, node_port, template=template)
            check = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
            with running(
                [nginx, "-c", str(conf)],
                f"http://127.0.0.1:{listen}/node/status",
                tmp / "nginx.log",
            ):
                yield Stack(f"http://127.0.0.1:{listen}", propusk, data)


def token(stack: Stack, email: str) -> str:
    r = httpx.post(f"{stack.propusk}/v1/auth/login", json={"username": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}", **JSON}


def test_public_node_route(stack: Stack) -> None:
    r = httpx.get(f"{stack.front}/node/status")
    assert r.status_code == 200 and r.json()["blockchainHeight"] == 1


def test_a_token_with_the_role_reaches_the_node(stack: Stack) -> None:
    admin = token(stack, "ops@example.com")  # admin holds the user methods too
    fee = httpx.post(f"{stack.front}/transactions/calculateFee", json={}, headers=bearer(admin))
    assert fee.status_code == 200, fee.text
    assert fee.json() == {"feeAssetId": None, "feeAmount": 1000000}
    privacy = token(stack, "privacy@example.com")
    body = b'{"policyId": "p1", "data": "aGVsbG8="}'
    r = httpx.post(f"{stack.front}/privacy/sendData", content=body, headers=bearer(privacy))
    assert r.status_code == 200, r.text
    sent = r.json()
    assert sent["route"] == "POST /privacy/sendData" and sent["bodyBytes"] == len(body)
    subject = jwt.decode(privacy, options={"verify_signature": False})["sub"]
    assert sent["forwarded"] == {
        "x-propusk-subject": subject,
        "x-propusk-auth": "bearer",
        "x-propusk-method": "privacy.send",
    }


def test_no_token_gets_the_nodes_618(stack: Stack) -> None:
    r = httpx.post(f"{stack.front}/transactions/calculateFee", json={})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "error": 618,
        "message": "Authorization error. Missing authorization metadata",
    }


def test_a_forged_token_gets_622(stack: Stack) -> None:
    admin = token(stack, "ops@example.com")
    forged = admin[:-4] + ("AAAA" if not admin.endswith("AAAA") else "BBBB")
    r = httpx.post(f"{stack.front}/transactions/broadcast", json={}, headers=bearer(forged))
    assert r.status_code == 401
    assert r.json() == {"error": 622, "message": "Authorization error. Invalid token"}


def test_a_role_that_is_not_enough_gets_621(stack: Stack) -> None:
    # admin does not reach the privacy routes on a node.
    admin = token(stack, "ops@example.com")
    r = httpx.post(f"{stack.front}/privacy/sendData", json={}, headers=bearer(admin))
    assert r.status_code == 403
    assert r.json() == {
        "error": 621,
        "message": "Authorization error. No expected role 'PrivacyUser' ",
    }


def minted_with_bad_claims(stack: Stack) -> str:
    """A token signed by the server's own key whose ``roles`` is not a list."""

    async def sign() -> str:
        settings = load_settings(environ={}, data_dir=stack.data_dir, issuer=stack.propusk)
        services = build_services(settings)
        try:
            key = await services.keyring.signing_key()
        finally:
            await services.close()
        claims = {
            "iss": stack.propusk,
            "sub": "minted",
            "roles": "admin",
            "addresses": [],
            "iat": 1,
            "exp": 4102444800,
            "jti": "minted-620",
        }
        return jose_jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    return asyncio.run(sign())


def test_unparseable_claims_get_620_with_a_403(stack: Stack) -> None:
    # A node answers 620 with 400; through a proxy it is a 403 (auth_request accepts only
    # 401 and 403 as refusals), with the node's body.
    bad = minted_with_bad_claims(stack)
    r = httpx.post(f"{stack.front}/transactions/calculateFee", json={}, headers=bearer(bad))
    assert r.status_code == 403
    assert r.json() == {
        "error": 620,
        "message": "Authorization error. Can't parse JWT token claims",
    }


def test_a_bad_token_on_a_public_route_is_refused_in_propusks_dialect(stack: Stack) -> None:
    # Public routes have no dialect; a wrong credential is never ignored, and a Bearer
    # token speaks Propusk's dialect: one challenge, not two (the config hides the copy).
    r = httpx.get(f"{stack.front}/node/status", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "message": "The token is invalid"}
    assert r.headers.get_list("www-authenticate") == [
        'Bearer realm="propusk", error="invalid_token"'
    ]


def test_the_internal_locations_are_not_reachable(stack: Stack) -> None:
    r = httpx.get(f"{stack.front}/_propusk_authorize", headers={"X-Original-URI": "/node/stop"})
    assert r.status_code == 404
