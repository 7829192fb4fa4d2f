"""Client-certificate authentication through the real app: certificates issued by the
Propusk CA over the API, forwarded by a trusted proxy, decided by the same policy; every
kind of bad certificate refused; a spoofed header from anyone else ignored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from fastapi import FastAPI

from propusk.services.audit import Origin
from propusk.wiring import Services
from tests.mtls_support import issue, make_ca, nginx_escaped, xfcc
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import owner_with_org
from tests.web.test_certificates_api import admin_headers, csr_pem

HEADER = "X-SSL-Client-Cert"
PROXY = "203.0.113.7"  # the `client` fixture's address
STRANGER = "198.51.100.9"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "trusted_proxies": [f"{PROXY}/32"],
        "client_cert_header": HEADER,
        "forward_auth_clients": [f"{PROXY}/32", f"{STRANGER}/32"],
    }


@pytest.fixture
async def stranger(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(STRANGER, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def header(pem: str) -> dict[str, str]:
    return {HEADER: nginx_escaped(pem)}


async def issued(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, email: str
) -> tuple[str, list[str], str, dict[str, str], dict[str, Any]]:
    """A CA, an org with two apps, and a certificate for the first app (reviews.read)."""
    await services.ca.init(Origin())
    owner, org, apps = await owner_with_org(client, mailbox, email)
    body = {"csrPem": csr_pem(), "appIds": apps[:1], "methods": ["reviews.read"]}
    request = await client.post(f"/v1/orgs/{org}/certificate-requests", json=body, headers=owner)
    assert request.status_code == 201, request.text
    admin = await admin_headers(client, services)
    r = await client.post(f"/v1/ca/requests/{request.json()['id']}/approve", headers=admin)
    assert r.status_code == 200, r.text
    return org, apps, r.json()["certificatePem"], owner, dict(r.json())


async def test_certificate_maps_to_its_org_and_scope(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox
) -> None:
    org, apps, pem, _, body = await issued(client, services, mailbox, "mtls1@example.com")
    ok = await client.get(f"/demo/apps/{apps[0]}/reviews", headers=header(pem))
    assert ok.status_code == 200, ok.text
    # The same policy decides: another app, or a method outside the scope, is 403.
    assert (
        await client.get(f"/demo/apps/{apps[1]}/reviews", headers=header(pem))
    ).status_code == 403
    assert (await client.get(f"/demo/apps/{apps[0]}", headers=header(pem))).status_code == 403
    # Forward-auth sees the same principal.
    question = {"X-Original-Method": "GET", "X-Original-URI": f"/demo/apps/{apps[0]}/reviews"}
    r = await client.get("/v1/authorize", headers={**question, **header(pem)})
    assert r.status_code == 200, r.text
    assert r.headers["x-propusk-auth"] == "mtls"
    assert r.headers["x-propusk-subject"] == body["serial"]
    assert r.headers["x-propusk-org"] == org


class TestEnvoy:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "trusted_proxies": [f"{PROXY}/32"],
            "client_cert_header": "X-Forwarded-Client-Cert",
            "client_cert_header_format": "envoy",
        }

    async def test_envoy_header_format(
        self, client: httpx.AsyncClient, services: Services, mailbox: Mailbox
    ) -> None:
        _, apps, pem, _, _ = await issued(client, services, mailbox, "envoy@example.com")
        url = f"/demo/apps/{apps[0]}/reviews"
        r = await client.get(url, headers={"X-Forwarded-Client-Cert": xfcc(pem)})
        assert r.status_code == 200, r.text
        # nginx's format in the Envoy header is not a certificate: refused, not ignored.
        assert (await client.get(url, headers={"X-Forwarded-Client-Cert": "x"})).status_code == 401


async def test_spoofed_header_from_a_non_proxy_is_ignored(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, services: Services, mailbox: Mailbox
) -> None:
    _, apps, pem, _, _ = await issued(client, services, mailbox, "spoof@example.com")
    url = f"/demo/apps/{apps[0]}/reviews"
    r = await stranger.get(url, headers=header(pem))
    assert r.status_code == 401  # no credential at all: the header did not count
    question = {"X-Original-Method": "GET", "X-Original-URI": url}
    assert (
        await stranger.get("/v1/authorize", headers={**question, **header(pem)})
    ).status_code == 401


async def test_revoked_certificate_is_refused(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox
) -> None:
    org, apps, pem, owner, body = await issued(client, services, mailbox, "revoke@example.com")
    url = f"/demo/apps/{apps[0]}/reviews"
    assert (await client.get(url, headers=header(pem))).status_code == 200
    r = await client.post(
        f"/v1/orgs/{org}/certificates/{body['serial']}/revoke",
        json={"reason": "keyCompromise"},
        headers=owner,
    )
    assert r.status_code == 200, r.text
    refused = await client.get(url, headers=header(pem))
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


def signed_by(
    key: Any,
    issuer: x509.Name,
    *,
    usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
    start: timedelta = timedelta(days=-1),
    end: timedelta = timedelta(days=30),
    now: Any,
    serial: int | None = None,
) -> str:
    subject_key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=made in a test"))
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now + start)
        .not_valid_after(now + end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize(
    "kind", ["foreign-ca", "self-signed", "expired", "not-yet-valid", "wrong-eku", "unknown-serial"]
)
async def test_bad_certificates_are_refused(
    client: httpx.AsyncClient,
    services: Services,
    mailbox: Mailbox,
    clock: ManualClock,
    kind: str,
) -> None:
    _, apps, pem, _, _ = await issued(client, services, mailbox, f"{kind}@example.com")
    _, ca = await services.ca.material()
    real = x509.load_pem_x509_certificate(pem.encode())
    now = clock.now()
    propusk_ca = (ca.private_key, ca.certificate.subject)
    bad = {
        # The real certificate's serial and issuer name, signed by someone else's key.
        "foreign-ca": lambda: signed_by(
            make_ca("Foreign").key, real.issuer, now=now, serial=real.serial_number
        ),
        "self-signed": lambda: issue(None, "self").pem,
        "expired": lambda: signed_by(
            *propusk_ca, start=timedelta(days=-30), end=timedelta(days=-1), now=now
        ),
        "not-yet-valid": lambda: signed_by(*propusk_ca, start=timedelta(days=1), now=now),
        "wrong-eku": lambda: signed_by(*propusk_ca, usage=ExtendedKeyUsageOID.SERVER_AUTH, now=now),
        # Signed by the Propusk CA but never issued through it (no record): refused.
        "unknown-serial": lambda: signed_by(*propusk_ca, now=now),
    }[kind]()
    r = await client.get(f"/demo/apps/{apps[0]}/reviews", headers=header(bad))
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_token"
