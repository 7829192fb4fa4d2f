"""The SDK's signed-request flows against a real ``propusk serve`` process: RFC 9421 with
``HttpMessageSignatureAuth`` (sync and async clients) and ``X-Digital-Sign`` with
``DigitalSignatureAuth``, a key registered over the HTTP API as a partner's would be; a
replayed RFC 9421 request is refused."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from propusk.client import DigitalSignatureAuth, HttpMessageSignatureAuth
from tests.integration.servers import BIN, need, propusk_env, propusk_server

pytestmark = pytest.mark.external

OWNER = "sdk-partner@example.com"
PASSWORD = "integration pass"
ED = ed25519.Ed25519PrivateKey.generate()
RSA = rsa.generate_private_key(65537, 2048)
XML = b'<?xml version="1.0"?><request><terminal-id>777</terminal-id><amount>5</amount></request>'


@dataclass(frozen=True)
class Server:
    url: str
    app: str
    ed_key: str
    rsa_key: str


def public_pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("sdk-e2e")
    with propusk_server(tmp) as url:
        created = subprocess.run(
            [
                str(BIN / "propusk"), "--data-dir", str(tmp / "data"), "admin", "create",
                "--email", OWNER, "--password", PASSWORD,
            ],
            env=propusk_env(tmp / "data"), capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        with httpx.Client(base_url=url, timeout=10) as http:
            login = http.post("/v1/auth/login", json={"username": OWNER, "password": PASSWORD})
            assert login.status_code == 200, login.text
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            org = http.post("/v1/orgs", json={"name": "Partner", "kind": "company"}).json()["id"]
            app = http.post(f"/v1/orgs/{org}/apps", json={"name": "Shop"}).json()["id"]
            keys = {}
            for name, key, algs, extra in (
                ("ed", ED, ["Ed25519"], {}),
                ("rsa", RSA, ["SHA256withRSA"], {"login": "shop-777"}),
            ):
                r = http.post(
                    f"/v1/orgs/{org}/signing-keys",
                    json={
                        "name": name,
                        "publicKeyPem": public_pem(key),
                        "algorithms": algs,
                        "appIds": [app],
                        "methods": ["reviews.reply", "payments.topup"],
                        **extra,
                    },
                )
                assert r.status_code == 201, r.text
                keys[name] = r.json()["keyId"]
        yield Server(url, app, keys["ed"], keys["rsa"])


def test_rfc9421_sync_and_async_clients(server: Server) -> None:
    url = f"{server.url}/demo/apps/{server.app}/reviews/r1/reply"
    auth = HttpMessageSignatureAuth(ED, server.ed_key)
    with httpx.Client(auth=auth, timeout=10) as http:
        r = http.post(url, json={"text": "Thank you"})
    assert r.status_code == 200, r.text
    assert (r.json()["authenticatedBy"], r.json()["subject"]) == ("http-signature", server.ed_key)

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(auth=auth, timeout=10) as http:
            return await http.post(url, json={"text": "Thank you again"})

    r = asyncio.run(run())
    assert r.status_code == 200, r.text


def test_rfc9421_replay_is_refused_by_the_server(server: Server) -> None:
    url = f"{server.url}/demo/apps/{server.app}/reviews/r1/reply"
    request = httpx.Request("POST", url, content=b'{"text": "once"}')
    signed = next(HttpMessageSignatureAuth(ED, server.ed_key).auth_flow(request))
    with httpx.Client(timeout=10) as http:
        first = http.send(signed)
        again = http.send(signed)
    assert first.status_code == 200, first.text
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_signature"


def test_digital_signature_auth_on_the_xml_api(server: Server) -> None:
    auth = DigitalSignatureAuth(RSA, "SHA256withRSA", login="shop-777")
    with httpx.Client(auth=auth, timeout=10) as http:
        r = http.post(f"{server.url}/demo/payments/topup", content=XML)
    assert r.status_code == 200, r.text
    assert f"<subject>{server.rsa_key}</subject>" in r.text
    assert f"<received-bytes>{len(XML)}</received-bytes>" in r.text
    # Another key's signature under the same login: the XML envelope's authorization error.
    other = DigitalSignatureAuth(rsa.generate_private_key(65537, 2048), login="shop-777")
    with httpx.Client(auth=other, timeout=10) as http:
        r = http.post(f"{server.url}/demo/payments/topup", content=XML)
    assert ">150</result-code>" in r.text


def test_propusk_sign_headers_file_with_curl(server: Server, tmp_path: Path) -> None:
    """The docs' how-to: `propusk sign … > headers.txt`, then `curl -H @headers.txt`."""
    curl = need("curl", "curl")
    key = tmp_path / "private.pem"
    key.write_bytes(
        RSA.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # what `openssl genrsa` writes
            serialization.NoEncryption(),
        )
    )
    body = tmp_path / "body.xml"
    body.write_bytes(XML)
    headers = tmp_path / "headers.txt"
    with headers.open("wb") as out:
        subprocess.run(
            [str(BIN / "propusk"), "sign", "--key", str(key), "--login", "shop-777", str(body)],
            stdout=out,
            check=True,
            env=propusk_env(tmp_path),
        )
    done = subprocess.run(
        [curl, "-sS", "-H", f"@{headers}", "--data-binary", f"@{body}",
         f"{server.url}/demo/payments/topup"],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    assert f"<subject>{server.rsa_key}</subject>".encode() in done.stdout, done.stdout
