"""The CA over HTTP: request, approve, download, list, revoke, CRL, and who may do what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from propusk.core.errors import InvalidToken
from propusk.core.pki import request_uri, thumbprint
from propusk.services.audit import Origin
from propusk.storage.models import AuditEvent, Certificate, CertificateRequest
from propusk.wiring import Services
from tests.helpers import PASSWORD, bearer, login, signed_up
from tests.support import Mailbox, ManualClock
from tests.web.service_key_helpers import owner_with_org

REQUESTS = "/v1/orgs/{org}/certificate-requests"
CERTS = "/v1/orgs/{org}/certificates"
PARTNER_KEY = ec.generate_private_key(ec.SECP256R1())


def csr_pem(key: Any = PARTNER_KEY, cn: str = "gateway") -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Partner"),
                    x509.NameAttribute(NameOID.COMMON_NAME, cn),
                ]
            )
        )
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


async def admin_headers(client: httpx.AsyncClient, services: Services) -> dict[str, str]:
    await services.accounts.create_admin("ca-admin@example.com", PASSWORD, Origin())
    return bearer(await login(client, "ca-admin@example.com"))


@pytest.fixture
async def ca_ready(services: Services) -> None:
    await services.ca.init(Origin())


async def submit(
    client: httpx.AsyncClient, owner: dict[str, str], org: str, apps: list[str], **extra: Any
) -> dict[str, Any]:
    body = {"csrPem": csr_pem(), "appIds": apps, "methods": ["reviews.read"], **extra}
    r = await client.post(REQUESTS.format(org=org), json=body, headers=owner)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def issued(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, email: str
) -> tuple[dict[str, str], dict[str, str], str, list[str], dict[str, Any]]:
    owner, org, apps = await owner_with_org(client, mailbox, email)
    request = await submit(client, owner, org, apps[:1])
    admin = await admin_headers(client, services)
    r = await client.post(f"/v1/ca/requests/{request['id']}/approve", headers=admin)
    assert r.status_code == 200, r.text
    return owner, admin, org, apps, dict(r.json())


async def test_request_approve_download(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, ca_ready: None
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "cert-owner@example.com")
    request = await submit(client, owner, org, apps[:1])
    assert request["status"] == "pending" and request["keyType"] == "EC-P-256"
    assert request["subject"] == "/C=RU/O=Partner/CN=gateway"
    admin = await admin_headers(client, services)
    queue = (await client.get("/v1/ca/requests", headers=admin)).json()["items"]
    assert [q["id"] for q in queue] == [request["id"]]
    r = await client.post(
        f"/v1/ca/requests/{request['id']}/approve", json={"days": 30}, headers=admin
    )
    assert r.status_code == 200, r.text
    body = r.json()
    cert = x509.load_pem_x509_certificate(body["certificatePem"].encode())
    ca = x509.load_pem_x509_certificate((await client.get("/v1/ca/certificate")).content)
    cert.verify_directly_issued_by(ca)
    assert body["serial"] == format(cert.serial_number, "x") and len(body["serial"]) == 40
    assert body["thumbprint"] == thumbprint(cert) and body["apps"] == apps[:1]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=30)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        request_uri(org, request["id"])
    ]
    # Download: JSON with chain, the bare PEM, and the bundle by format or Accept.
    url = f"{CERTS.format(org=org)}/{body['serial']}"
    got = (await client.get(url, headers=owner)).json()
    assert got["chainPem"] == (await client.get("/v1/ca/certificate")).text
    pem = await client.get(url, params={"format": "pem"}, headers=owner)
    assert pem.text == body["certificatePem"]
    bundle = await client.get(url, headers={**owner, "Accept": "application/pem-certificate-chain"})
    assert bundle.headers["content-type"].startswith("application/pem-certificate-chain")
    assert bundle.text == body["certificatePem"] + got["chainPem"]
    decided = await client.get(f"{REQUESTS.format(org=org)}/{request['id']}", headers=owner)
    assert decided.json()["status"] == "approved"
    assert decided.json()["certificateSerial"] == body["serial"]
    # The certificate maps to its org and scope.
    principal = await services.certificates.principal_for(cert)
    assert (principal.kind, principal.method, principal.subject) == (
        "certificate",
        "mtls",
        body["serial"],
    )
    assert principal.org_id == org and principal.apps == frozenset(apps[:1])
    assert principal.methods == frozenset({"reviews.read"})
    assert principal.cert_thumbprint == body["thumbprint"]
    kinds = set(await _audit_kinds(services))
    assert {"ca.created", "certificate_request.created", "certificate_request.approved"} <= kinds
    assert "certificate.issued" in kinds


async def _audit_kinds(services: Services) -> list[str]:
    async with services.db.read() as session:
        return list(await session.scalars(select(AuditEvent.kind)))


async def test_pkcs10_bodies(client: httpx.AsyncClient, mailbox: Mailbox, ca_ready: None) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "pkcs10@example.com")
    pem = csr_pem().encode()
    der = x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    import base64

    for body in (der, pem, base64.b64encode(der)):
        r = await client.post(
            REQUESTS.format(org=org),
            params={"allApps": "true", "methods": ["reviews.read", "reports.read"]},
            content=body,
            headers={**owner, "Content-Type": "application/pkcs10"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["apps"] == sorted(apps)
        assert r.json()["methods"] == ["reports.read", "reviews.read"]


async def test_revoke_crl_and_principal(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, ca_ready: None
) -> None:
    owner, _admin, org, _, body = await issued(client, services, mailbox, "rev@example.com")
    cert = x509.load_pem_x509_certificate(body["certificatePem"].encode())
    before = await client.get("/v1/ca/crl")
    assert before.headers["content-type"] == "application/pkix-crl"
    empty = x509.load_der_x509_crl(before.content)
    assert len(empty) == 0
    url = f"{CERTS.format(org=org)}/{body['serial']}/revoke"
    r = await client.post(url, json={"reason": "keyCompromise"}, headers=owner)
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    assert (await client.post(url, json={"reason": "superseded"}, headers=owner)).status_code == 409
    after = x509.load_der_x509_crl((await client.get("/v1/ca/crl")).content)
    ca = x509.load_pem_x509_certificate((await client.get("/v1/ca/certificate")).content)
    assert after.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    entry = after.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert _crl_number(after) > _crl_number(empty)
    pem = await client.get("/v1/ca/crl", headers={"Accept": "application/x-pem-file"})
    assert pem.text.startswith("-----BEGIN X509 CRL-----")
    with pytest.raises(InvalidToken):
        await services.certificates.principal_for(cert)
    listed = await client.get(CERTS.format(org=org), params={"status": "revoked"}, headers=owner)
    assert [c["serial"] for c in listed.json()["items"]] == [body["serial"]]
    active = await client.get(CERTS.format(org=org), params={"status": "active"}, headers=owner)
    assert active.json()["items"] == []
    assert "certificate.revoked" in await _audit_kinds(services)


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


async def test_crl_rebuilt_before_next_update(
    client: httpx.AsyncClient, services: Services, clock: ManualClock, ca_ready: None
) -> None:
    first = x509.load_der_x509_crl((await client.get("/v1/ca/crl")).content)
    again = x509.load_der_x509_crl((await client.get("/v1/ca/crl")).content)
    assert first == again  # cached: same number, same bytes
    clock.advance(services.settings.crl_refresh + 1)
    services.ca.changed()
    later = x509.load_der_x509_crl((await client.get("/v1/ca/crl")).content)
    assert later.last_update_utc > first.last_update_utc
    assert later.next_update_utc is not None and later.next_update_utc > clock.now()


async def test_list_filters_and_paging(
    client: httpx.AsyncClient,
    services: Services,
    mailbox: Mailbox,
    clock: ManualClock,
    ca_ready: None,
) -> None:
    owner, admin, org, apps, first = await issued(client, services, mailbox, "list@example.com")
    serials = [first["serial"]]
    for days in (10, 20):
        req = await submit(client, owner, org, apps[:1])
        clock.advance(1)
        r = await client.post(
            f"/v1/ca/requests/{req['id']}/approve", json={"days": days}, headers=admin
        )
        serials.append(r.json()["serial"])
    page = (await client.get(CERTS.format(org=org), params={"limit": 2}, headers=owner)).json()
    assert [c["serial"] for c in page["items"]] == serials[::-1][:2] and page["nextOffset"] == 2
    rest = await client.get(CERTS.format(org=org), params={"offset": 2}, headers=owner)
    assert [c["serial"] for c in rest.json()["items"]] == serials[:1]
    soon = (clock.now() + timedelta(days=15)).isoformat()
    expiring = await client.get(
        CERTS.format(org=org), params={"expiresBefore": soon}, headers=owner
    )
    assert [c["serial"] for c in expiring.json()["items"]] == [serials[1]]
    clock.advance(11 * 86400)
    owner = bearer(await login(client, "list@example.com"))  # the old token has expired
    expired = await client.get(CERTS.format(org=org), params={"status": "expired"}, headers=owner)
    assert [c["serial"] for c in expired.json()["items"]] == [serials[1]]


async def test_who_may_do_what(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, ca_ready: None
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "perm-owner@example.com")
    stranger = bearer(await signed_up(client, mailbox, "stranger@example.com"))
    request = await submit(client, owner, org, apps[:1])
    approve = f"/v1/ca/requests/{request['id']}/approve"
    body = {"csrPem": csr_pem(), "allApps": True, "methods": ["reviews.read"]}
    assert (
        await client.post(REQUESTS.format(org=org), json=body, headers=stranger)
    ).status_code == 404
    assert (await client.get(REQUESTS.format(org=org), headers=stranger)).status_code == 404
    assert (
        await client.get(f"/v1/ca/requests/{request['id']}", headers=stranger)
    ).status_code == 404
    assert (await client.post(approve, headers=stranger)).status_code == 404
    assert (await client.get(CERTS.format(org=org), headers=stranger)).status_code == 404
    assert (await client.get("/v1/ca/requests", headers=owner)).status_code == 403
    # An owner may not approve until a server admin turns self-service on for the org.
    assert (await client.post(approve, headers=owner)).status_code == 403
    admin = await admin_headers(client, services)
    put = f"/v1/ca/orgs/{org}/self-service"
    assert (await client.put(put, json={"enabled": True}, headers=owner)).status_code == 403
    assert (await client.put(put, json={"enabled": True}, headers=admin)).status_code == 204
    r = await client.post(approve, headers=owner)
    assert r.status_code == 200, r.text
    assert (await client.post(approve, headers=admin)).status_code == 409
    other = await submit(client, owner, org, apps[:1])
    reject = f"/v1/ca/requests/{other['id']}/reject"
    r = await client.post(reject, json={"reason": "wrong subject"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["reason"] == "wrong subject"
    assert (
        await client.post(f"/v1/ca/requests/{other['id']}/approve", headers=admin)
    ).status_code == 409


async def test_subject_override(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, ca_ready: None
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "override@example.com")
    request = await submit(client, owner, org, apps[:1])
    admin = await admin_headers(client, services)
    r = await client.post(
        f"/v1/ca/requests/{request['id']}/approve",
        json={"subject": "/O=Provider/CN=partner-7"},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["subject"] == "/O=Provider/CN=partner-7"


async def test_without_ca(client: httpx.AsyncClient, services: Services, mailbox: Mailbox) -> None:
    assert (await client.get("/v1/ca/certificate")).status_code == 404
    assert (await client.get("/v1/ca/crl")).json()["error"] == "not_found"
    owner, org, apps = await owner_with_org(client, mailbox, "noca@example.com")
    request = await submit(client, owner, org, apps[:1])
    admin = await admin_headers(client, services)
    r = await client.post(f"/v1/ca/requests/{request['id']}/approve", headers=admin)
    assert r.status_code == 404
    assert (await client.get(f"/v1/ca/requests/{request['id']}", headers=owner)).json()[
        "status"
    ] == "pending"


async def test_refused_certificates(
    client: httpx.AsyncClient,
    services: Services,
    mailbox: Mailbox,
    clock: ManualClock,
    ca_ready: None,
) -> None:
    _, _, _, _, body = await issued(client, services, mailbox, "refused@example.com")
    cert = x509.load_pem_x509_certificate(body["certificatePem"].encode())
    await services.certificates.principal_for(cert)
    # A certificate from another CA with the same serial and subject: refused.
    other_key = ec.generate_private_key(ec.SECP256R1())
    foreign = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
        .sign(other_key, hashes.SHA256())
    )
    with pytest.raises(InvalidToken):
        await services.certificates.principal_for(foreign)
    ca = x509.load_pem_x509_certificate((await client.get("/v1/ca/certificate")).content)
    with pytest.raises(InvalidToken):
        await services.certificates.principal_for(ca)  # self-signed CA cert
    clock.advance(400 * 86400)
    with pytest.raises(InvalidToken):
        await services.certificates.principal_for(cert)  # expired (cached signature check)


async def test_revocation_seen_by_another_node(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, ca_ready: None
) -> None:
    from propusk.wiring import build_services
    from tests.conftest import MASTER_KEY

    owner, _, org, _, body = await issued(client, services, mailbox, "nodes@example.com")
    cert = x509.load_pem_x509_certificate(body["certificatePem"].encode())
    settings = services.settings.model_copy(update={"key_state_ttl": 0.0})
    other = build_services(
        settings, db=services.db, clock=services.clock, cache=services.cache, master_key=MASTER_KEY
    )
    assert (await other.certificates.principal_for(cert)).org_id == org
    url = f"{CERTS.format(org=org)}/{body['serial']}/revoke"
    assert (await client.post(url, json={"reason": "superseded"}, headers=owner)).status_code == 200
    with pytest.raises(InvalidToken):
        await other.certificates.principal_for(cert)
    crl = x509.load_der_x509_crl(await other.ca.crl_der())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None


def _rsa1024_pem() -> str:
    return csr_pem(rsa.generate_private_key(65537, 1024))  # noqa: S505 - refused on purpose


BAD_JSON: dict[str, Any] = {
    "not json": "{",
    "csr missing": {"appIds": [], "methods": ["reviews.read"]},
    "csr a number": {"csrPem": 5, "allApps": True, "methods": ["reviews.read"]},
    "garbage csr": {"csrPem": "hello", "allApps": True, "methods": ["reviews.read"]},
    "weak key": {"csrPem": "RSA1024", "allApps": True, "methods": ["reviews.read"]},
    "no methods": {"csrPem": "OK", "allApps": True, "methods": []},
    "unknown method": {"csrPem": "OK", "allApps": True, "methods": ["nope"]},
    "no scope": {"csrPem": "OK", "methods": ["reviews.read"]},
    "foreign app": {"csrPem": "OK", "appIds": ["x"], "methods": ["reviews.read"]},
    "unknown field": {"csrPem": "OK", "allApps": True, "methods": ["reviews.read"], "x": 1},
    "a list": [],
    "huge csr": {"csrPem": "A" * 20000, "allApps": True, "methods": ["reviews.read"]},
}


@pytest.mark.parametrize("case", BAD_JSON, ids=list(BAD_JSON))
async def test_bad_requests_write_nothing(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, case: str, ca_ready: None
) -> None:
    owner, org, _ = await owner_with_org(client, mailbox, "bad@example.com")
    body = BAD_JSON[case]
    if isinstance(body, dict) and body.get("csrPem") == "OK":
        body = {**body, "csrPem": csr_pem()}
    if isinstance(body, dict) and body.get("csrPem") == "RSA1024":
        body = {**body, "csrPem": _rsa1024_pem()}
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    r = await client.post(
        REQUESTS.format(org=org), headers={**owner, "Content-Type": "application/json"}, **kwargs
    )
    assert 400 <= r.status_code < 500, r.text
    assert set(r.json()) == {"error", "message"}
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(CertificateRequest)) == 0


BAD_OTHER: dict[str, tuple[str, str, Any]] = {
    "pkcs10 garbage": ("POST", "pkcs10", b"\x01\x02garbage"),
    "pkcs10 without methods": ("POST", "pkcs10-nomethods", None),
    "other content type": ("POST", "text", b"hello"),
    "json with query scope": ("POST", "json-query", None),
    "approve bad subject": ("APPROVE", "", {"subject": "CN=no slash"}),
    "approve bad days": ("APPROVE", "", {"days": 0}),
    "approve unknown field": ("APPROVE", "", {"validity": 3}),
    "reject empty reason": ("REJECT", "", {"reason": ""}),
    "reject no body": ("REJECT", "", None),
    "revoke bad reason": ("REVOKE", "", {"reason": "certificateHold"}),
    "revoke bad serial": ("REVOKE-SERIAL", "", {"reason": "superseded"}),
    "list bad status": ("LIST", "", {"status": "gone"}),
    "list naive date": ("LIST", "", {"expiresBefore": "2030-01-01T00:00:00"}),
    "list huge limit": ("LIST", "", {"limit": 100000}),
}


@pytest.mark.parametrize("case", BAD_OTHER, ids=list(BAD_OTHER))
async def test_bad_input_table(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, case: str, ca_ready: None
) -> None:
    owner, admin, org, apps, body = await issued(client, services, mailbox, "table@example.com")
    pending = await submit(client, owner, org, apps[:1])
    kind, variant, payload = BAD_OTHER[case]
    async with services.db.read() as session:
        before = await session.scalar(select(func.count()).select_from(AuditEvent))
    if kind == "POST":
        url = REQUESTS.format(org=org)
        der = x509.load_pem_x509_csr(csr_pem().encode()).public_bytes(serialization.Encoding.DER)
        if variant == "pkcs10":
            r = await client.post(
                url,
                params={"allApps": "true", "methods": "reviews.read"},
                content=payload,
                headers={**owner, "Content-Type": "application/pkcs10"},
            )
        elif variant == "pkcs10-nomethods":
            r = await client.post(
                url,
                params={"allApps": "true"},
                content=der,
                headers={**owner, "Content-Type": "application/pkcs10"},
            )
        elif variant == "json-query":
            r = await client.post(
                url,
                params={"allApps": "true"},
                json={"csrPem": csr_pem(), "allApps": True, "methods": ["reviews.read"]},
                headers=owner,
            )
        else:
            r = await client.post(
                url, content=payload, headers={**owner, "Content-Type": "text/plain"}
            )
    elif kind == "APPROVE":
        r = await client.post(
            f"/v1/ca/requests/{pending['id']}/approve", json=payload, headers=admin
        )
    elif kind == "REJECT":
        r = await client.post(
            f"/v1/ca/requests/{pending['id']}/reject", json=payload, headers=admin
        )
    elif kind.startswith("REVOKE"):
        serial = body["serial"] if kind == "REVOKE" else "zz"
        r = await client.post(
            f"{CERTS.format(org=org)}/{serial}/revoke", json=payload, headers=owner
        )
    else:
        r = await client.get(CERTS.format(org=org), params=payload, headers=owner)
    assert 400 <= r.status_code < 500, r.text
    assert set(r.json()) == {"error", "message"}
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == before
        assert await session.scalar(select(func.count()).select_from(Certificate)) == 1
        assert await session.scalar(select(func.count()).select_from(CertificateRequest)) == 2
        statuses = set(await session.scalars(select(Certificate.status)))
    assert statuses == {"active"}


async def test_replaced_ca_refuses_its_certificates(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, ca_ready: None
) -> None:
    _, _, _, _, body = await issued(client, services, mailbox, "replaced@example.com")
    cert = x509.load_pem_x509_certificate(body["certificatePem"].encode())
    await services.certificates.principal_for(cert)  # verified once, then cached
    old = (await client.get("/v1/ca/certificate")).text
    await services.ca.init(Origin(), key_type="rsa", replace=True)
    assert (await client.get("/v1/ca/certificate")).text != old
    with pytest.raises(InvalidToken):
        await services.certificates.principal_for(cert)
    # Its record still points at the CA that issued it.
    assert body["chainPem"] == old


async def test_member_roles_and_admins_on_certificates(
    client: httpx.AsyncClient, services: Services, mailbox: Mailbox, ca_ready: None
) -> None:
    owner, admin, org, apps, body = await issued(client, services, mailbox, "roles@example.com")
    developer = bearer(await signed_up(client, mailbox, "cert-dev@example.com"))
    added = await client.post(
        f"/v1/orgs/{org}/members",
        json={"email": "cert-dev@example.com", "role": "developer"},
        headers=owner,
    )
    assert added.status_code == 201, added.text
    stranger = bearer(await signed_up(client, mailbox, "cert-stranger@example.com"))
    cert_url = f"{CERTS.format(org=org)}/{body['serial']}"
    payload = {"csrPem": csr_pem(), "appIds": apps[:1], "methods": ["reviews.read"]}
    # A developer may read but not request or revoke.
    assert (await client.get(cert_url, headers=developer)).status_code == 200
    assert (
        await client.post(REQUESTS.format(org=org), json=payload, headers=developer)
    ).status_code == 403
    revoke = f"{cert_url}/revoke"
    assert (await client.post(revoke, json={}, headers=developer)).status_code == 403
    # A stranger learns nothing.
    assert (await client.get(cert_url, headers=stranger)).status_code == 404
    assert (await client.post(revoke, json={}, headers=stranger)).status_code == 404
    # A server admin (not a member) runs the CA for every org: it may revoke.
    r = await client.post(revoke, json={"reason": "privilegeWithdrawn"}, headers=admin)
    assert r.status_code == 200 and r.json()["revocationReason"] == "privilegeWithdrawn"
    # Another org's serial is not found through this org.
    other_owner, other_org, _ = await owner_with_org(client, mailbox, "other-org@example.com")
    assert (
        await client.get(f"{CERTS.format(org=other_org)}/{body['serial']}", headers=other_owner)
    ).status_code == 404
