"""Direct TLS: a real Uvicorn with Propusk's server context and TLSExtensionProtocol, and
httpx clients built with the SDK's client_ssl_context."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.x509.oid import ExtendedKeyUsageOID
from starlette.types import Receive, Scope, Send

from propusk.client import client_ssl_context
from propusk.web.tls import TLSExtensionProtocol, server_ssl_context
from tests.integration.servers import free_port
from tests.mtls_support import Issued, issue, make_ca


async def echo_tls(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that answers with the TLS extension it was given."""
    assert scope["type"] == "http"
    tls = scope.get("extensions", {}).get("tls")
    body = repr(tls).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


class Files:
    def __init__(self, tmp: Path) -> None:
        self.server_ca = make_ca("Server CA")
        self.client_ca = make_ca("Client CA")
        self.server = issue(
            self.server_ca, "localhost", dns="localhost", usage=ExtendedKeyUsageOID.SERVER_AUTH
        )
        self.alice = issue(self.client_ca, "alice")
        self.tmp = tmp
        self.server_cert, self.server_key = self.server.write(tmp, "server")
        self.server_ca_file = self.server_ca.write(tmp, "server-ca")[0]

    def client(self, who: Issued | None) -> httpx.Client:
        if who is None:
            context = ssl.create_default_context(cafile=str(self.server_ca_file))
        else:
            cert, key = who.write(self.tmp, f"client-{id(who)}")
            context = client_ssl_context(cert, key, self.server_ca_file)
        return httpx.Client(verify=context, timeout=5)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module", params=[False, True], ids=["optional", "required"])
def server(request: pytest.FixtureRequest, files: Files) -> Iterator[tuple[str, bool]]:
    required: bool = request.param
    context = server_ssl_context(
        files.server_cert, files.server_key, [files.client_ca.pem], require_client_cert=required
    )
    port = free_port()
    config = uvicorn.Config(
        echo_tls,
        host="127.0.0.1",
        port=port,
        http=TLSExtensionProtocol,
        ssl_context_factory=lambda _config, _default: context,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"https://localhost:{port}/", required
    server.should_exit = True
    thread.join(10)


def extension(response: httpx.Response) -> dict[str, Any] | None:
    import ast

    value = ast.literal_eval(response.text)
    assert value is None or isinstance(value, dict)
    return value


def test_the_verified_client_certificate_reaches_the_app(
    server: tuple[str, bool], files: Files
) -> None:
    url, _ = server
    with files.client(files.alice) as http:
        r = http.get(url)
        again = http.get(url)  # the second request on the same connection sees it too
    tls = extension(r)
    assert tls is not None
    assert [ssl.PEM_cert_to_DER_cert(p) for p in tls["client_cert_chain"]] == [files.alice.der]
    assert tls["tls_version"] == 0x0304
    assert set(tls) == {
        "server_cert",
        "client_cert_chain",
        "client_cert_name",
        "client_cert_error",
        "tls_version",
        "cipher_suite",
    }
    assert extension(again) == tls


def test_without_a_certificate_optional_lets_in_and_required_refuses(
    server: tuple[str, bool], files: Files
) -> None:
    url, required = server
    with files.client(None) as http:
        if required:
            with pytest.raises(httpx.TransportError):
                http.get(url)
        else:
            tls = extension(http.get(url))
            assert tls is not None and tls["client_cert_chain"] == []


def test_a_certificate_from_another_ca_fails_the_handshake(
    server: tuple[str, bool], files: Files
) -> None:
    url, _ = server
    stranger = issue(make_ca("Stranger CA"), "stranger")
    with files.client(stranger) as http, pytest.raises(httpx.TransportError):
        http.get(url)


def test_server_context_refuses_required_certificates_without_a_ca(files: Files) -> None:
    with pytest.raises(ValueError, match="no CA"):
        server_ssl_context(files.server_cert, files.server_key, [], require_client_cert=True)
    context = server_ssl_context(files.server_cert, files.server_key, [])
    assert context.verify_mode == ssl.CERT_NONE
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_client_context_is_tls12_plus_and_checks_the_server(files: Files) -> None:
    cert, key = files.alice.write(files.tmp, "alice")
    context = client_ssl_context(cert, key, files.server_ca_file)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_client_context_refuses_a_key_that_does_not_match(files: Files) -> None:
    cert, _ = files.alice.write(files.tmp, "alice")
    _, other_key = issue(files.client_ca, "bob").write(files.tmp, "bob")
    with pytest.raises(ssl.SSLError):
        client_ssl_context(cert, other_key, files.server_ca_file)
