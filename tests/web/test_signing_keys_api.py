"""Signing-key management: registration with checked keys and algorithms, the legacy opt-in
with its warning, uniqueness of login and terminal, lifecycle, audit, and who may manage."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from sqlalchemy import select

from propusk.storage.models import AuditEvent, Base
from propusk.wiring import Services
from tests.helpers import bearer, signed_up
from tests.support import Mailbox
from tests.web.service_key_helpers import owner_with_org
from tests.web.signing_key_helpers import KEYS, PARTNER, new_signing_key, public_pem


def _pem(key: Any) -> str:
    data: bytes = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data.decode()


WEAK_RSA = rsa.generate_private_key(65537, 1024)  # noqa: S505 - must be refused
with warnings.catch_warnings():
    # cryptography 51 deprecates DSA; the key exists only to be refused.
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    DSA = dsa.generate_private_key(1024)  # noqa: S505
PRIVATE_PEM = PARTNER.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()

BAD_CREATE: dict[str, tuple[dict[str, Any], int, str]] = {
    "weak-rsa-1024": ({"publicKeyPem": _pem(WEAK_RSA.public_key())}, 400, "this one has 1024"),
    "dsa": ({"publicKeyPem": _pem(DSA.public_key())}, 400, "DSA keys are not accepted"),
    "garbage-pem": ({"publicKeyPem": "-----BEGIN PUBLIC KEY-----\nx\n"}, 400, "not a PEM"),
    "private-key": ({"publicKeyPem": PRIVATE_PEM}, 400, "PRIVATE key"),
    "unknown-alg": ({"algorithms": ["SHA256withRSA", "SHA3withRSA"]}, 400, "unknown algorithm"),
    "alg-for-other-key": ({"algorithms": ["Ed25519"]}, 400, "does not work with this rsa key"),
    "legacy-no-opt-in": ({"algorithms": ["SHA1withRSA"]}, 400, "allowLegacyAlgorithms"),
    "md5-no-opt-in": ({"algorithms": ["MD5withRSA"]}, 400, "allowLegacyAlgorithms"),
    "oversized-name": ({"name": "n" * 256}, 400, "at most 255 characters"),
    "blank-name": ({"name": "  "}, 400, "name must be"),
    "bad-terminal": ({"terminalId": "12 34"}, 400, "terminalId must be"),
    "bad-login": ({"login": " padded "}, 400, "login must be"),
    "bad-ip": ({"allowedIps": ["10.0.0.0/33"]}, 400, "not an address"),
    "replay-window": ({"replayWindow": 86401}, 400, "replayWindow"),
    "no-methods": ({"methods": []}, 400, "at least one method"),
    "unknown-method": ({"methods": ["nope"]}, 400, "unknown methods"),
    "short-password": ({"password": "x"}, 400, ""),
    "unknown-field": ({"publicKey": "x"}, 400, "publicKey"),
    "pem-not-string": ({"publicKeyPem": 42}, 400, "publicKeyPem"),
}


@pytest.mark.parametrize("case", BAD_CREATE.values(), ids=BAD_CREATE.keys())
async def test_bad_creates_are_refused_without_a_write(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    services: Services,
    case: tuple[dict[str, Any], int, str],
) -> None:
    change, status, message = case
    owner, org, _ = await owner_with_org(client, mailbox, "bad-sk@example.com", apps=0)
    payload = {"name": "p", "publicKeyPem": public_pem(), "methods": ["payments.topup"]}
    payload["appIds"] = []
    payload.update(change)
    r = await client.post(KEYS.format(org=org), json=payload, headers=owner)
    assert r.status_code == status, r.text
    assert message in r.text
    assert (await client.get(KEYS.format(org=org), headers=owner)).json()["items"] == []
    events = await services.audit.events(kind="signing_key.created")
    assert events == []


async def test_key_types_defaults_and_pkcs1(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "types@example.com", apps=0)
    cases = [
        (_pem(ec.generate_private_key(ec.SECP256R1()).public_key()), "ec-p256", "SHA256withECDSA"),
        (_pem(ec.generate_private_key(ec.SECP384R1()).public_key()), "ec-p384", "SHA384withECDSA"),
        (_pem(ed25519.Ed25519PrivateKey.generate().public_key()), "ed25519", "Ed25519"),
        (
            PARTNER.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
            .decode(),
            "rsa",
            "SHA256withRSA",
        ),
    ]
    for pem, kind, alg in cases:
        created = await new_signing_key(client, owner, org, publicKeyPem=pem)
        assert created["keyType"] == kind and created["algorithms"] == [alg]
        assert created["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
        assert "warnings" not in created


async def test_legacy_opt_in_is_audited_with_a_warning(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "legacy@example.com", apps=0)
    created = await new_signing_key(
        client,
        owner,
        org,
        algorithms=["SHA1withRSA", "SHA256withRSA"],
        allowLegacyAlgorithms=True,
    )
    assert created["algorithms"] == ["SHA1withRSA", "SHA256withRSA"]
    assert len(created["warnings"]) == 1 and "SHA1withRSA" in created["warnings"][0]
    (event,) = await services.audit.events(kind="signing_key.legacy_algorithm_enabled")
    assert event.outcome == "warning" and event.target_id == created["keyId"]
    assert event.data == {"algorithms": ["SHA1withRSA"]}
    # PATCH: adding MD5 needs the flag again; keeping SHA-1 without adding anything does not.
    path = f"{KEYS.format(org=org)}/{created['keyId']}"
    r = await client.patch(path, json={"algorithms": ["MD5withRSA", "SHA1withRSA"]}, headers=owner)
    assert r.status_code == 400 and "allowLegacyAlgorithms" in r.text
    r = await client.patch(
        path,
        json={"algorithms": ["MD5withRSA", "SHA1withRSA"], "allowLegacyAlgorithms": True},
        headers=owner,
    )
    assert r.status_code == 200 and "MD5withRSA" in r.json()["warnings"][0]
    assert "SHA1withRSA" not in r.json()["warnings"][0]  # only what was added now
    r = await client.patch(path, json={"algorithms": ["SHA256withRSA"]}, headers=owner)
    assert r.status_code == 200 and r.json()["algorithms"] == ["SHA256withRSA"]
    assert "warnings" not in r.json()


async def test_login_and_terminal_are_unique_per_server(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "uniq1@example.com", apps=0)
    other, other_org, _ = await owner_with_org(client, mailbox, "uniq2@example.com", apps=0)
    first = await new_signing_key(client, owner, org, login="shop", terminalId="777")
    for body in ({"login": "shop"}, {"terminalId": "777"}):
        payload = {"name": "x", "publicKeyPem": public_pem(), "methods": ["payments.topup"]}
        r = await client.post(
            KEYS.format(org=other_org), json={**payload, "appIds": [], **body}, headers=other
        )
        assert r.status_code == 409, r.text
    second = await new_signing_key(client, owner, org, login="shop2")
    r = await client.patch(
        f"{KEYS.format(org=org)}/{second['keyId']}", json={"login": "shop"}, headers=owner
    )
    assert r.status_code == 409
    r = await client.patch(
        f"{KEYS.format(org=org)}/{first['keyId']}", json={"login": "shop"}, headers=owner
    )
    assert r.status_code == 200  # its own login is no conflict


async def test_lifecycle_and_password_only_hashed(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "life@example.com", apps=1)
    secret = "terminal password 1"
    created = await new_signing_key(
        client,
        owner,
        org,
        password=secret,
        terminalId="42",
        allowedIps=["203.0.113.0/24", "2001:db8::1"],
        replayWindow=300,
    )
    assert created["hasPassword"] is True and "password" not in created
    assert created["allowedIps"] == ["2001:db8::1/128", "203.0.113.0/24"]
    assert created["replayWindow"] == 300 and created["status"] == "active"
    path = f"{KEYS.format(org=org)}/{created['keyId']}"
    async with services.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                assert secret not in repr(tuple(row))
    r = await client.patch(
        path, json={"appIds": apps, "methods": ["reports.read"], "allowedIps": []}, headers=owner
    )
    assert r.status_code == 200, r.text
    assert r.json()["apps"] == apps and r.json()["methods"] == ["reports.read"]
    assert r.json()["allowedIps"] == []
    assert (await client.post(f"{path}/disable", headers=owner)).json()["status"] == "disabled"
    assert (await client.post(f"{path}/enable", headers=owner)).json()["status"] == "active"
    r = await client.patch(path, json={"removePassword": True}, headers=owner)
    assert r.json()["hasPassword"] is False
    assert (await client.get(path, headers=owner)).json()["keyId"] == created["keyId"]
    assert (await client.delete(path, headers=owner)).status_code == 204
    assert (await client.get(path, headers=owner)).status_code == 404
    async with services.db.read() as session:
        kinds = list(
            await session.scalars(
                select(AuditEvent.kind)
                .where(AuditEvent.target_id == created["keyId"])
                .order_by(AuditEvent.id)
            )
        )
    assert kinds == [
        "signing_key.created",
        "signing_key.updated",
        "signing_key.disabled",
        "signing_key.enabled",
        "signing_key.updated",
        "signing_key.deleted",
    ]


@pytest.mark.parametrize(
    ("role", "manage"), [("admin", True), ("developer", False), ("viewer", False)]
)
async def test_who_manages(
    client: httpx.AsyncClient, mailbox: Mailbox, role: str, manage: bool
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "own-sk@example.com", apps=0)
    member = bearer(await signed_up(client, mailbox, "mem-sk@example.com"))
    await client.post(
        f"/v1/orgs/{org}/members", json={"email": "mem-sk@example.com", "role": role}, headers=owner
    )
    payload = {"name": "m", "publicKeyPem": public_pem(), "methods": ["payments.topup"]}
    r = await client.post(KEYS.format(org=org), json={**payload, "appIds": []}, headers=member)
    assert r.status_code == (201 if manage else 403), r.text
    assert (await client.get(KEYS.format(org=org), headers=member)).status_code == 200


async def test_foreign_org_and_unknown_ids_are_404(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "mine-sk@example.com", apps=0)
    stranger, stranger_org, _ = await owner_with_org(client, mailbox, "str-sk@example.com", apps=0)
    key = await new_signing_key(client, owner, org)
    payload = {"name": "m", "publicKeyPem": public_pem(), "methods": ["payments.topup"]}
    r = await client.post(KEYS.format(org=org), json={**payload, "appIds": []}, headers=stranger)
    assert r.status_code == 404
    assert (await client.get(KEYS.format(org=org), headers=stranger)).status_code == 404
    # The key exists, but not in the stranger's org: the same 404 as a made-up id.
    for key_id in (key["keyId"], "00000000-0000-0000-0000-000000000000", "x"):
        base = f"{KEYS.format(org=stranger_org)}/{key_id}"
        for method, path in [
            ("GET", base),
            ("PATCH", base),
            ("POST", f"{base}/disable"),
            ("POST", f"{base}/enable"),
            ("DELETE", base),
        ]:
            r = await client.request(
                method, path, json={} if method == "PATCH" else None, headers=stranger
            )
            assert r.status_code == 404, (method, path, r.text)
