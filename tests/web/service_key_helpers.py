"""Helpers for service-key tests: sign the exchange exactly as the public clients do."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.helpers import bearer, signed_up
from tests.support import Mailbox


def load_private(b64_der: str) -> rsa.RSAPrivateKey:
    """The console's private key format: standard Base64 of DER PKCS#8 (``MIIE…``)."""
    key = serialization.load_der_private_key(base64.b64decode(b64_der), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def timestamp(now: datetime, *, offset_hours: int = 3, shift: float = 0.0) -> str:
    """ISO-8601 with milliseconds and an offset, like ``2024-06-18T11:49:08.290+03:00``."""
    from datetime import timezone

    local = (now + timedelta(seconds=shift)).astimezone(timezone(timedelta(hours=offset_hours)))
    return local.isoformat(timespec="milliseconds")


def sign(key: rsa.RSAPrivateKey, key_id: str, ts: str, *, wrap: bool = False) -> str:
    signature = key.sign((key_id + ts).encode(), padding.PKCS1v15(), hashes.SHA512())
    text = base64.b64encode(signature).decode()
    if wrap:  # the fastlane plugin's Base64.encode64: a newline every 60 characters
        text = "\n".join(text[i : i + 60] for i in range(0, len(text), 60)) + "\n"
    return text


async def exchange(
    client: httpx.AsyncClient, key_id: str, key: rsa.RSAPrivateKey, now: datetime, **kw: Any
) -> httpx.Response:
    ts = timestamp(now)
    body = {"keyId": key_id, "timestamp": ts, "signature": sign(key, key_id, ts, **kw)}
    return await client.post("/public/auth/", json=body)


async def owner_with_org(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str, apps: int = 2
) -> tuple[dict[str, str], str, list[str]]:
    """A signed-up owner, its company and ``apps`` apps."""
    owner = bearer(await signed_up(client, mailbox, email))
    org = (
        await client.post("/v1/orgs", json={"name": "Studio", "kind": "company"}, headers=owner)
    ).json()["id"]
    app_ids = []
    for i in range(apps):
        r = await client.post(f"/v1/orgs/{org}/apps", json={"name": f"App {i}"}, headers=owner)
        app_ids.append(r.json()["id"])
    return owner, org, app_ids
