"""Signed responses: the guarded API's answers carry X-Digital-Sign over the exact body,
verifiable with the published key; the key endpoint is off while the feature is."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import Message, Receive, Scope, Send

from propusk.core import digital_sign
from propusk.guard.body import signing_send
from propusk.services.keyring import Keyring
from propusk.services.response_signing import ResponseSigning
from propusk.wiring import Services
from tests.conftest import MASTER_KEY
from tests.support import Mailbox
from tests.web.service_key_helpers import owner_with_org
from tests.web.signing_key_helpers import TOPUP, new_signing_key, signed, xml_body


class TestOn:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"response_signing": True}

    async def test_answers_and_refusals_are_signed(
        self, client: httpx.AsyncClient, mailbox: Mailbox
    ) -> None:
        owner, org, _ = await owner_with_org(client, mailbox, "resp@example.com", apps=0)
        await new_signing_key(client, owner, org, terminalId="10001")
        pem = await client.get("/v1/signing/public-key")
        assert pem.status_code == 200
        assert pem.headers["content-type"].startswith("application/x-pem-file")
        public = serialization.load_pem_public_key(pem.content)
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
        body = xml_body()
        for headers, status in ((signed(body), 200), ({}, 401)):
            r = await client.post(TOPUP, content=body, headers=headers)
            assert r.status_code == status
            assert r.headers["x-digital-sign-alg"] == "SHA256withRSA"
            signature = base64.b64decode(r.headers["x-digital-sign"])
            assert digital_sign.verify("SHA256withRSA", public, r.content, signature)
            assert not digital_sign.verify("SHA256withRSA", public, r.content + b" ", signature)
        # The server's own API (not guarded) is not signed.
        assert "x-digital-sign" not in (await client.get("/status")).headers


async def test_public_key_is_404_when_off(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/signing/public-key")
    assert r.status_code == 404
    assert "x-digital-sign" not in (await client.get("/demo/health")).headers


async def test_chunked_answers_are_signed_whole() -> None:
    class Signer:
        async def sign_body(self, body: bytes) -> tuple[str, str]:
            return "Test", base64.b64encode(body[::-1]).decode()

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"x-digital-sign", b"forged"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for part in (b"ab", b"", b"cd"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"e", "more_body": False})

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    await app({"type": "http"}, receive, signing_send(send, Signer()))
    start, whole = sent
    assert whole["body"] == b"abcde"
    assert (b"x-digital-sign", base64.b64encode(b"edcba")) in start["headers"]
    assert (b"x-digital-sign", b"forged") not in start["headers"]  # the app cannot forge it
    assert (b"x-digital-sign-alg", b"Test") in start["headers"]


async def test_every_node_uses_the_same_response_key(services: Services) -> None:
    first = await services.response_signing.public_key_pem()
    other_node = ResponseSigning(Keyring(services.db, MASTER_KEY, services.clock))
    assert await other_node.public_key_pem() == first
    alg, signature = await other_node.sign_body(b"<response/>")
    public = serialization.load_pem_public_key(first.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    assert digital_sign.verify(alg, public, b"<response/>", base64.b64decode(signature))
