"""Hostile input against every signing-key and CA route, and against the guard's signature
and client-certificate paths: always a 4xx in the protocol's own envelope, never a 500,
never a partial write, and 404 for other organizations' objects.

Requests go through the in-process app. Header values a well-behaved HTTP client refuses
to send (CR, LF, NUL, bytes that are not UTF-8) are sent as a raw ASGI scope.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.types import Message

from propusk.services.audit import Origin
from propusk.storage.models import (
    AuditEvent,
    Certificate,
    CertificateRequest,
    Organization,
    SigningKey,
)
from propusk.wiring import Services
from tests.mtls_support import issue, make_ca, nginx_escaped, xfcc
from tests.support import Mailbox
from tests.web.service_key_helpers import owner_with_org
from tests.web.signing_key_helpers import KEYS, OTHER, PARTNER, TOPUP, public_pem, signed, xml_body
from tests.web.test_certificates_api import admin_headers, csr_pem

CERT_HEADER = "X-SSL-Client-Cert"
PROXY = "203.0.113.7"  # the `client` fixture's address
BIG = "A" * 100_000
NUL = "a\x00b"
TOO_LARGE = 431  # the server-wide cap on request headers answers first
SURROGATE = "\ud800"  # json.dumps escapes it as "\ud800": valid JSON, not valid Unicode


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "trusted_proxies": [f"{PROXY}/32"],
        "client_cert_header": CERT_HEADER,
        "forward_auth_clients": [f"{PROXY}/32"],
    }


@dataclass
class World:
    owner: dict[str, str]
    admin: dict[str, str]
    stranger: dict[str, str]
    org: str
    other_org: str
    apps: list[str]
    key: dict[str, Any]
    other_key: dict[str, Any]
    pending: dict[str, Any]
    cert: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture
async def world(client: httpx.AsyncClient, services: Services, mailbox: Mailbox) -> World:
    """An org with a signing key, a pending certificate request and an issued certificate;
    a stranger with an org (and a key) of its own; a server admin."""
    await services.ca.init(Origin())
    owner, org, apps = await owner_with_org(client, mailbox, "hostile-owner@example.com")
    stranger, other_org, _ = await owner_with_org(client, mailbox, "stranger@example.com", apps=0)
    key = await _key(client, owner, org, login="shop-1", terminalId="10001", password="pass 12345")
    other_key = await _key(
        client, stranger, other_org, name="theirs", publicKeyPem=public_pem(OTHER)
    )
    admin = await admin_headers(client, services)
    body = {"csrPem": csr_pem(), "appIds": apps[:1], "methods": ["reviews.read"]}
    url = f"/v1/orgs/{org}/certificate-requests"
    first = (await client.post(url, json=body, headers=owner)).json()
    approved = await client.post(f"/v1/ca/requests/{first['id']}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    pending = (await client.post(url, json=body, headers=owner)).json()
    assert pending["status"] == "pending"
    world = World(
        owner, admin, stranger, org, other_org, apps, key, other_key, pending, approved.json()
    )
    world.ids = {
        "org": org,
        "other_org": other_org,
        "key": key["keyId"],
        "other_key": other_key["keyId"],
        "req": pending["id"],
        "done_req": first["id"],
        "serial": world.cert["serial"],
        "app": apps[0],
    }
    return world


async def _key(client: httpx.AsyncClient, who: dict[str, str], org: str, **body: Any) -> Any:
    payload = {
        "name": "partner",
        "publicKeyPem": public_pem(PARTNER),
        "methods": ["payments.topup"],
    }
    payload = {**payload, "appIds": [], **body}
    r = await client.post(KEYS.format(org=org), json=payload, headers=who)
    assert r.status_code == 201, r.text
    return r.json()


async def snapshot(services: Services) -> tuple[Any, ...]:
    """Every row a refused request could have touched (and the audit trail's length)."""
    async with services.db.read() as session:
        keys = (
            await session.execute(
                select(
                    SigningKey.key_id,
                    SigningKey.name,
                    SigningKey.status,
                    SigningKey.login,
                    SigningKey.terminal_id,
                    SigningKey.password_hash,
                    SigningKey.algorithms,
                    SigningKey.apps,
                    SigningKey.methods,
                    SigningKey.allowed_ips,
                    SigningKey.replay_window,
                    SigningKey.updated_at,
                ).order_by(SigningKey.key_id)
            )
        ).all()
        requests = (
            await session.execute(
                select(
                    CertificateRequest.id,
                    CertificateRequest.status,
                    CertificateRequest.reason,
                    CertificateRequest.certificate_serial,
                ).order_by(CertificateRequest.id)
            )
        ).all()
        certs = (
            await session.execute(
                select(
                    Certificate.serial, Certificate.status, Certificate.revocation_reason
                ).order_by(Certificate.serial)
            )
        ).all()
        orgs = (
            await session.execute(
                select(Organization.id, Organization.cert_self_service).order_by(Organization.id)
            )
        ).all()
        audit = await session.scalar(select(func.count()).select_from(AuditEvent))
    return tuple(keys), tuple(requests), tuple(certs), tuple(orgs), audit


def assert_envelope(response: httpx.Response) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    return dict(body)


# -- the management table -------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {org} {other_org} {key} {other_key} {req} {done_req} {serial} filled in
    body: Any = None  # dict/list: JSON (ASCII-escaped, so lone surrogates survive); bytes raw
    who: str = "owner"  # owner | admin | stranger
    params: dict[str, Any] | None = None
    content_type: str | None = "application/json"
    status: int | None = None  # the exact status, where one is certain


SK = "/v1/orgs/{org}/signing-keys"
SK1 = SK + "/{key}"
GOOD_KEY: dict[str, Any] = {
    "name": "new key",
    "publicKeyPem": public_pem(OTHER),
    "methods": ["payments.topup"],
    "appIds": [],
}
RQ = "/v1/orgs/{org}/certificate-requests"
CERTS = "/v1/orgs/{org}/certificates"
CERT1 = CERTS + "/{serial}"


def _create(**change: Any) -> Case:
    return Case("POST", SK, {**GOOD_KEY, **change})


def _patch(**change: Any) -> Case:
    return Case("PATCH", SK1, change)


def _csr(**change: Any) -> Case:
    body = {"csrPem": "CSR", "allApps": True, "methods": ["reviews.read"], **change}
    return Case("POST", RQ, body)


def _pkcs10(body: bytes, **params: Any) -> Case:
    query = {"allApps": "true", "methods": "reviews.read", **params}
    return Case("POST", RQ, body, params=query, content_type="application/pkcs10")


def _approve(body: Any, **kw: Any) -> Case:
    return Case("POST", "/v1/ca/requests/{req}/approve", body, **{"who": "admin", **kw})


def _reject(body: Any, **kw: Any) -> Case:
    return Case("POST", "/v1/ca/requests/{req}/reject", body, **{"who": "admin", **kw})


def _revoke(reason: Any, **kw: Any) -> Case:
    return Case("POST", CERT1 + "/revoke", {"reason": reason}, **kw)


def _get(path: str, **params: Any) -> Case:
    return Case("GET", path, params=params or None, content_type=None)


CERT_PEM_PLACEHOLDER = b"CERT"  # replaced by the issued certificate's PEM

CASES: dict[str, Case] = {
    # signing keys: create, wrong JSON types and hostile strings in every field
    "create-name-number": _create(name=5),
    "create-name-null": _create(name=None),
    "create-name-object": _create(name={"a": 1}),
    "create-name-100k": _create(name=BIG),
    "create-name-nul": _create(name=NUL),
    "create-name-surrogate": _create(name=SURROGATE),
    "create-pem-list": _create(publicKeyPem=[GOOD_KEY["publicKeyPem"]]),
    "create-pem-nul": _create(publicKeyPem=GOOD_KEY["publicKeyPem"].replace("\n", "\x00", 1)),
    "create-pem-surrogate": _create(publicKeyPem=SURROGATE + GOOD_KEY["publicKeyPem"]),
    "create-pem-100k": _create(publicKeyPem=BIG),
    "create-pem-certificate": _create(publicKeyPem="CERT"),
    "create-pem-two-keys": _create(publicKeyPem=GOOD_KEY["publicKeyPem"] * 2),
    "create-methods-null": _create(methods=None),
    "create-methods-string": _create(methods="payments.topup"),
    "create-methods-nested": _create(methods=[["payments.topup"]]),
    "create-methods-huge-array": _create(methods=["payments.topup"] * 20_000),
    "create-methods-nul": _create(methods=["payments.topup\x00"]),
    "create-methods-surrogate": _create(methods=[SURROGATE]),
    "create-appids-numbers": _create(appIds=[1, 2]),
    "create-appids-foreign": _create(appIds=["{other_org}"]),
    "create-appids-nul": _create(appIds=["\x00"]),
    "create-allapps-string": _create(allApps="yes"),
    "create-ips-string": _create(allowedIps="10.0.0.0/8"),
    "create-ips-nul": _create(allowedIps=["10.0.0.1\x00"]),
    "create-ips-surrogate": _create(allowedIps=[SURROGATE]),
    "create-ips-huge-array": _create(allowedIps=["10.0.0.1"] * 101),
    "create-window-string": _create(replayWindow="60"),
    "create-window-negative": _create(replayWindow=-1),
    "create-window-float": _create(replayWindow=1.5),
    "create-window-huge": _create(replayWindow=10**30),
    "create-window-nan": _create(replayWindow=float("nan")),
    "create-login-nul": _create(login=NUL),
    "create-login-surrogate": _create(login=SURROGATE),
    "create-login-100k": _create(login=BIG),
    "create-login-empty": _create(login=""),
    "create-login-taken": _create(login="shop-1"),
    "create-terminal-dots": _create(terminalId="../.."),
    "create-terminal-nul": _create(terminalId="1\x002"),
    "create-terminal-taken": _create(terminalId="10001"),
    "create-password-nul": _create(password="pass\x00word 1"),
    "create-password-newline": _create(password="pass\nword 12"),
    "create-password-surrogate": _create(password="password " + SURROGATE),
    "create-password-number": _create(password=12345678),
    "create-password-huge": _create(password=BIG),
    "create-algs-null-item": _create(algorithms=[None]),
    "create-algs-surrogate": _create(algorithms=[SURROGATE]),
    "create-legacy-string": _create(allowLegacyAlgorithms="true", algorithms=["SHA1withRSA"]),
    "create-body-array": Case("POST", SK, [GOOD_KEY]),
    "create-body-string": Case("POST", SK, "key"),
    "create-body-not-utf8": Case("POST", SK, b'{"name": "\xff\xfe", "methods": []}'),
    "create-body-truncated": Case("POST", SK, b'{"name": "x",'),
    "create-body-deep": Case("POST", SK, b"[" * 100_000 + b"]" * 100_000),
    "create-body-empty": Case("POST", SK, b""),
    "create-xml-to-json-route": Case(
        "POST", SK, b"<key><name>x</name></key>", content_type="application/xml"
    ),
    "create-pkcs10-to-json-route": Case("POST", SK, b"\x30\x03\x02\x01\x00", content_type=None),
    "create-in-other-org": Case("POST", "/v1/orgs/{other_org}/signing-keys", GOOD_KEY, status=404),
    "create-org-id-nul": Case("POST", "/v1/orgs/%00/signing-keys", GOOD_KEY),
    "create-org-id-long": Case("POST", "/v1/orgs/" + "a" * 5000 + "/signing-keys", GOOD_KEY),
    # signing keys: update
    "patch-name-number": _patch(name=1),
    "patch-name-nul": _patch(name=NUL),
    "patch-name-surrogate": _patch(name=SURROGATE),
    "patch-login-nul": _patch(login=NUL),
    "patch-login-surrogate": _patch(login=SURROGATE),
    "patch-login-empty": _patch(login=""),
    "patch-terminal-empty-list": _patch(terminalId=[]),
    "patch-password-surrogate": _patch(password="password " + SURROGATE),
    "patch-remove-password-string": _patch(removePassword="yes"),
    "patch-password-nul": _patch(password="pass\x00word 1"),
    "patch-allapps-number": _patch(allApps=1),
    "patch-methods-empty": _patch(methods=[]),
    "patch-methods-huge": _patch(methods=["payments.topup"] * 20_000),
    "patch-apps-foreign": _patch(appIds=["nope"]),
    "patch-algs-wrong-key": _patch(algorithms=["Ed25519"]),
    "patch-window-bool-list": _patch(replayWindow=[True]),
    "patch-ips-nested": _patch(allowedIps=[["10.0.0.1"]]),
    "patch-unknown-field": _patch(publicKeyPem=GOOD_KEY["publicKeyPem"]),
    "patch-not-utf8": Case("PATCH", SK1, b'{"name": "\xc3\x28"}'),
    "patch-other-orgs-key": Case("PATCH", SK + "/{other_key}", {"name": "mine"}, status=404),
    "patch-via-other-org": Case(
        "PATCH", "/v1/orgs/{other_org}/signing-keys/{other_key}", {"name": "x"}, status=404
    ),
    # signing keys: path parameters that are not ids
    "get-key-16-nonhex": _get(SK + "/" + "z" * 16),
    "get-key-40-nonhex": _get(SK + "/" + "z" * 40),
    "get-key-64-nonhex": _get(SK + "/" + "z" * 64),
    "get-key-65": _get(SK + "/" + "a" * 65),
    "get-key-nul": _get(SK + "/%00"),
    "get-key-tab": Case("GET", SK + "/a%09b", content_type=None, status=400),
    "delete-key-nul-in-org": Case("DELETE", "/v1/orgs/%00/signing-keys/{key}", None, status=400),
    "get-key-dotdot": _get(SK + "/%2E%2E"),
    "get-key-very-long": _get(SK + "/" + "a" * 10_000),
    "get-key-surrogate-escape": _get(SK + "/%ED%A0%80"),
    "get-key-invalid-utf8": _get(SK + "/%FF%FE"),
    "get-other-orgs-key": Case("GET", SK + "/{other_key}", content_type=None, status=404),
    "list-other-org": Case(
        "GET", "/v1/orgs/{other_org}/signing-keys", content_type=None, status=404
    ),
    "disable-key-nul": Case("POST", SK + "/%00/disable", None, status=400),
    "enable-other-orgs-key": Case("POST", SK + "/{other_key}/enable", None, status=404),
    "disable-with-body": Case("POST", SK + "/{other_key}/disable", {"x": 1}, status=404),
    "delete-key-long": Case("DELETE", SK + "/" + "f" * 64, None, status=404),
    "delete-other-orgs-key": Case("DELETE", SK + "/{other_key}", None, status=404),
    "public-key-not-enabled": Case("GET", "/v1/signing/public-key", content_type=None, status=404),
    # certificate requests: JSON
    "csr-number": _csr(csrPem=5),
    "csr-null": _csr(csrPem=None),
    "csr-list": _csr(csrPem=["CSR"]),
    "csr-nul": _csr(csrPem="-----BEGIN CERTIFICATE REQUEST-----\n\x00\n"),
    "csr-surrogate": _csr(csrPem=SURROGATE),
    "csr-100k": _csr(csrPem=BIG),
    "csr-certificate-instead": _csr(csrPem="CERT"),
    "csr-public-key-instead": _csr(csrPem=GOOD_KEY["publicKeyPem"]),
    "csr-begin-without-end": _csr(csrPem="-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"),
    "csr-end-before-begin": _csr(
        csrPem="-----END CERTIFICATE REQUEST-----\n-----BEGIN CERTIFICATE REQUEST-----\n"
    ),
    "csr-methods-huge": _csr(methods=["reviews.read"] * 20_000),
    "csr-methods-nested": _csr(methods=[{"m": 1}]),
    "csr-appids-surrogate": _csr(allApps=False, appIds=[SURROGATE]),
    "csr-appids-nul": _csr(allApps=False, appIds=["\x00"]),
    "csr-not-utf8": Case("POST", RQ, b'{"csrPem": "\xff", "allApps": true, "methods": []}'),
    "csr-utf16-json": Case(
        "POST",
        RQ,
        json.dumps({"csrPem": "x", "allApps": True, "methods": ["a"]}).encode("utf-16"),
    ),
    "csr-xml-body": Case("POST", RQ, b"<csr/>", content_type="application/xml"),
    "csr-form-body": Case(
        "POST", RQ, b"csrPem=x", content_type="application/x-www-form-urlencoded"
    ),
    "csr-other-org": Case(
        "POST",
        "/v1/orgs/{other_org}/certificate-requests",
        {"csrPem": "CSR", "allApps": True, "methods": ["reviews.read"]},
        status=404,
    ),
    # certificate requests: application/pkcs10
    "pkcs10-json-body": _pkcs10(b'{"csrPem": "x"}'),
    "pkcs10-empty": _pkcs10(b""),
    "pkcs10-nul": _pkcs10(b"\x00" * 64),
    "pkcs10-100k-der": _pkcs10(b"\x30\x83\x01\x86\xa0" + b"\x00" * 100_000),
    "pkcs10-100k-base64": _pkcs10(b"QUFB" * 25_000),
    "pkcs10-not-utf8-pem": _pkcs10(b"-----BEGIN CERTIFICATE REQUEST-----\n\xff\xfe\n"),
    "pkcs10-certificate-pem": _pkcs10(b"CERT"),
    "pkcs10-query-nul": _pkcs10(b"CSRDER", methods="reviews.read\x00"),
    "pkcs10-query-long": _pkcs10(b"CSRDER", methods="m" * 65),
    "pkcs10-query-many": _pkcs10(b"CSRDER", methods=["reviews.read"] * 1001),
    "pkcs10-allapps-string": _pkcs10(b"CSRDER", allApps="maybe"),
    # certificate requests: listing
    "requests-status-bad": _get(RQ, status="PENDING"),
    "requests-status-long": _get(RQ, status="p" * 17),
    "requests-status-nul": _get(RQ, status="pending\x00"),
    "requests-limit-negative": _get(RQ, limit=-1),
    "requests-limit-zero": _get(RQ, limit=0),
    "requests-limit-huge": _get(RQ, limit=10**20),
    "requests-limit-text": _get(RQ, limit="ten"),
    "requests-offset-negative": _get(RQ, offset=-5),
    "requests-offset-huge": _get(RQ, offset=10**12),
    "requests-other-org": Case(
        "GET", "/v1/orgs/{other_org}/certificate-requests", content_type=None, status=404
    ),
    "queue-status-bad": Case("GET", "/v1/ca/requests", params={"status": "x"}, who="admin"),
    "queue-limit-huge": Case("GET", "/v1/ca/requests", params={"limit": 10**9}, who="admin"),
    "queue-not-admin": Case("GET", "/v1/ca/requests", content_type=None, status=403),
    "request-id-long": _get("/v1/ca/requests/" + "a" * 37),
    "request-id-nul": Case("GET", "/v1/ca/requests/%00", content_type=None, status=400),
    "request-id-newline": Case(
        "POST", "/v1/ca/requests/a%0Ab/approve", None, who="admin", status=400
    ),
    "certs-org-id-nul": Case("GET", "/v1/orgs/%00/certificates", content_type=None, status=400),
    "requests-org-id-nul": Case(
        "POST", "/v1/orgs/a%00/certificate-requests", {"csrPem": "CSR"}, status=400
    ),
    "revoke-org-id-crlf": Case(
        "POST", "/v1/orgs/%0D%0A/certificates/{serial}/revoke", None, status=400
    ),
    "self-service-org-id-nul": Case(
        "PUT", "/v1/ca/orgs/%00/self-service", {"enabled": True}, who="admin", status=400
    ),
    "request-id-dotdot": Case("GET", "/v1/ca/requests/..%2F..", content_type=None),
    "request-of-stranger": Case("GET", "/v1/ca/requests/{req}", who="stranger", status=404),
    "request-via-other-org": Case(
        "GET", "/v1/orgs/{other_org}/certificate-requests/{req}", who="stranger", status=404
    ),
    # decisions
    "approve-subject-number": _approve({"subject": 5}),
    "approve-subject-nul": _approve({"subject": "/CN=a\x00b"}),
    "approve-subject-surrogate": _approve({"subject": "/CN=" + SURROGATE}),
    "approve-subject-100k": _approve({"subject": "/CN=" + BIG}),
    "approve-subject-unknown-attr": _approve({"subject": "/XX=1"}),
    "approve-subject-empty-parts": _approve({"subject": "////"}),
    "approve-days-string": _approve({"days": "30"}),
    "approve-days-negative": _approve({"days": -1}),
    "approve-days-huge": _approve({"days": 10**20}),
    "approve-days-float": _approve({"days": 1.5}),
    "approve-body-list": _approve([]),
    "approve-body-not-utf8": _approve(b'{"subject": "\xff"}'),
    "approve-decided": Case(
        "POST", "/v1/ca/requests/{done_req}/approve", None, who="admin", status=409
    ),
    "approve-unknown": Case(
        "POST", "/v1/ca/requests/" + "0" * 36 + "/approve", None, who="admin", status=404
    ),
    "approve-by-stranger": _approve(None, who="stranger", status=404),
    "approve-by-owner": _approve(None, who="owner", status=403),
    "reject-reason-number": _reject({"reason": 1}),
    "reject-reason-null": _reject({"reason": None}),
    "reject-reason-blank": _reject({"reason": "   "}),
    "reject-reason-nul": _reject({"reason": "bad\x00key"}),
    "reject-reason-control": _reject({"reason": "line\r\nInjected: yes"}),
    "reject-reason-surrogate": _reject({"reason": SURROGATE}),
    "reject-reason-256": _reject({"reason": "r" * 256}),
    "reject-decided": Case(
        "POST", "/v1/ca/requests/{done_req}/reject", {"reason": "late"}, who="admin", status=409
    ),
    "reject-by-stranger": _reject({"reason": "no"}, who="stranger", status=404),
    "self-service-string": Case(
        "PUT", "/v1/ca/orgs/{org}/self-service", {"enabled": "yes"}, who="admin"
    ),
    "self-service-null": Case(
        "PUT", "/v1/ca/orgs/{org}/self-service", {"enabled": None}, who="admin"
    ),
    "self-service-unknown-org": Case(
        "PUT", "/v1/ca/orgs/nope/self-service", {"enabled": True}, who="admin", status=404
    ),
    "self-service-not-admin": Case(
        "PUT", "/v1/ca/orgs/{org}/self-service", {"enabled": True}, status=403
    ),
    # certificates
    "certs-status-bad": _get(CERTS, status="valid"),
    "certs-expires-words": _get(CERTS, expiresBefore="yesterday"),
    "certs-expires-impossible": _get(CERTS, expiresBefore="2030-13-45T00:00:00Z"),
    "certs-expires-year-99999": _get(CERTS, expiresBefore="99999-01-01T00:00:00Z"),
    "certs-expires-naive": _get(CERTS, expiresBefore="2030-01-01T00:00:00"),
    "certs-expires-utc-before-year-1": _get(CERTS, expiresBefore="0001-01-01T00:00:00+14:00"),
    "certs-expires-utc-after-year-9999": _get(CERTS, expiresBefore="9999-12-31T23:59:59-14:00"),
    "certs-expires-nul": _get(CERTS, expiresBefore="2030\x00"),
    "certs-expires-huge-number": _get(CERTS, expiresBefore=str(10**30)),
    "certs-limit-negative": _get(CERTS, limit=-1),
    "certs-limit-huge": _get(CERTS, limit=10**20),
    "certs-offset-negative": _get(CERTS, offset=-1),
    "certs-other-org": Case(
        "GET", "/v1/orgs/{other_org}/certificates", content_type=None, status=404
    ),
    "cert-serial-41": _get(CERTS + "/" + "a" * 41),
    "cert-serial-nonhex-40": _get(CERTS + "/" + "g" * 40),
    "cert-serial-nonhex-16": _get(CERTS + "/" + "z" * 16),
    "cert-serial-nul": _get(CERTS + "/%00"),
    "cert-serial-dotdot": _get(CERTS + "/%2E%2E"),
    "cert-serial-unknown": Case("GET", CERTS + "/" + "ab" * 20, content_type=None, status=404),
    "cert-format-der": _get(CERT1, format="der"),
    "cert-of-other-org": Case(
        "GET", "/v1/orgs/{other_org}/certificates/{serial}", who="stranger", status=404
    ),
    "cert-of-other-org-by-owner-path": Case(
        "GET", "/v1/orgs/{other_org}/certificates/{serial}", content_type=None, status=404
    ),
    "revoke-certificate-hold": _revoke("certificateHold"),
    "revoke-remove-from-crl": _revoke("removeFromCRL"),
    "revoke-wrong-case": _revoke("KEYCOMPROMISE"),
    "revoke-reason-code-number": _revoke(1),
    "revoke-reason-code-text": _revoke("1"),
    "revoke-reason-null": _revoke(None),
    "revoke-reason-empty": _revoke(""),
    "revoke-reason-nul": _revoke("superseded\x00"),
    "revoke-reason-surrogate": _revoke(SURROGATE),
    "revoke-reason-long": _revoke("k" * 33),
    "revoke-body-not-utf8": Case("POST", CERT1 + "/revoke", b'{"reason": "\xff"}'),
    "revoke-xml-body": Case("POST", CERT1 + "/revoke", b"<r/>", content_type="application/xml"),
    "revoke-unknown-serial": Case("POST", CERTS + "/" + "ab" * 20 + "/revoke", None, status=404),
    "revoke-by-stranger": Case(
        "POST",
        "/v1/orgs/{other_org}/certificates/{serial}/revoke",
        None,
        who="stranger",
        status=404,
    ),
    "crl-format-bad": _get("/v1/ca/crl", format="xml"),
    "crl-format-nul": _get("/v1/ca/crl", format="der\x00"),
}


def _fill(value: Any, ids: dict[str, str], cert_pem: str, csr: str) -> Any:
    if isinstance(value, str):
        if value == "CERT":
            return cert_pem
        if value == "CSR":
            return csr
        for name, real in ids.items():
            value = value.replace("{" + name + "}", real)
        return value
    if isinstance(value, list):
        return [_fill(v, ids, cert_pem, csr) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids, cert_pem, csr) for k, v in value.items()}
    return value


async def send(client: httpx.AsyncClient, world: World, case: Case) -> httpx.Response:
    headers = {"owner": world.owner, "admin": world.admin, "stranger": world.stranger}[case.who]
    headers = dict(headers)
    path = _fill(case.path, world.ids, "", "")
    csr = csr_pem()
    body = case.body
    content: bytes | None
    if body == CERT_PEM_PLACEHOLDER:
        content = world.cert["certificatePem"].encode()
    elif body == b"CSRDER":
        content = x509.load_pem_x509_csr(csr.encode()).public_bytes(serialization.Encoding.DER)
    elif isinstance(body, bytes):
        content = body
    elif body is None:
        content = None
    else:
        # ensure_ascii (the default) writes a lone surrogate as the escape "\ud800".
        content = json.dumps(_fill(body, world.ids, world.cert["certificatePem"], csr)).encode()
    if case.content_type is not None and content is not None:
        headers["Content-Type"] = case.content_type
    return await client.request(
        case.method, path, content=content, headers=headers, params=case.params
    )


@pytest.mark.parametrize("name", list(CASES))
async def test_hostile_management_input(
    client: httpx.AsyncClient, services: Services, world: World, name: str
) -> None:
    case = CASES[name]
    before = await snapshot(services)
    response = await send(client, world, case)
    body = assert_envelope(response)
    if case.status is not None:
        assert response.status_code == case.status, body
    assert await snapshot(services) == before


# -- the guard: X-Digital-Sign ----------------------------------------------------------------


async def raw_request(
    app: FastAPI,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b"",
    client: str = PROXY,
    length: bytes | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request as a raw ASGI scope: header bytes exactly as given (CR, LF, NUL, 8-bit)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            *headers,
            (b"content-length", str(len(body)).encode() if length is None else length),
        ],
        "client": (client, 40000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start.get("headers", [])), content


GOOD_SIG = signed(xml_body())["X-Digital-Sign"].encode()
SIGNATURE_HEADERS: dict[str, list[tuple[bytes, bytes]]] = {
    "sign-header-injection": [(b"x-digital-sign", b"AAAA\r\nX-Propusk-Auth: admin")],
    "sign-nul": [(b"x-digital-sign", GOOD_SIG[:10] + b"\x00" + GOOD_SIG[10:])],
    "sign-huge": [(b"x-digital-sign", b"A" * 200_000)],
    "sign-8bit": [(b"x-digital-sign", b"\xff\xfe" + GOOD_SIG)],
    "sign-empty": [(b"x-digital-sign", b"")],
    "sign-twice": [(b"x-digital-sign", GOOD_SIG), (b"x-digital-sign", GOOD_SIG)],
    "sign-padding-only": [(b"x-digital-sign", b"====")],
    "alg-nul": [(b"x-digital-sign-alg", b"SHA256withRSA\x00")],
    "alg-huge": [(b"x-digital-sign-alg", b"S" * 100_000)],
    "alg-8bit": [(b"x-digital-sign-alg", b"SHA256with\xd0\xa0SA")],
    "login-bad-base64": [(b"x-digital-sign-login", b"%%%===")],
    "login-base64-not-utf8": [(b"x-digital-sign-login", base64.b64encode(b"\xff\xfe\xfd"))],
    "login-base64-nul": [(b"x-digital-sign-login", base64.b64encode(b"shop\x00-1"))],
    "login-base64-control": [(b"x-digital-sign-login", base64.b64encode(b"shop-1\r\n"))],
    "login-raw-nul": [(b"x-digital-sign-login", b"shop\x00-1")],
    "login-raw-8bit-not-utf8": [(b"x-digital-sign-login", b"\xc3\x28shop")],
    "login-huge": [(b"x-digital-sign-login", b"s" * 100_000)],
    "login-huge-base64": [(b"x-digital-sign-login", base64.b64encode(b"s" * 60_000))],
    "login-empty": [(b"x-digital-sign-login", b"")],
    "key-id-nul": [(b"x-key-id", b"\x00" * 36)],
    "key-id-huge": [(b"x-key-id", b"k" * 100_000)],
    "key-id-dotdot": [(b"x-key-id", b"../../etc/passwd")],
    "key-id-8bit": [(b"x-key-id", b"\xff" * 36)],
}


@pytest.mark.parametrize("name", list(SIGNATURE_HEADERS))
@pytest.mark.parametrize("route", ["xml", "json"])
async def test_hostile_signature_headers_are_refused(
    app: FastAPI, services: Services, world: World, name: str, route: str
) -> None:
    """On the XML API the refusal is the QIWI envelope (150/300), on a JSON API Propusk's;
    a 4xx either way, and the key's lastUsedAt is not touched."""
    body = xml_body()
    headers = {k.lower().encode(): v.encode() for k, v in signed(body).items()}
    headers[b"x-digital-sign-login"] = b"shop-1"
    replaced = SIGNATURE_HEADERS[name]
    for key, _ in replaced:
        headers.pop(key, None)
    if any(key == b"x-key-id" for key, _ in replaced):
        del headers[b"x-digital-sign-login"]  # the login would decide before X-Key-Id
    raw = list(headers.items()) + replaced
    before = await snapshot(services)
    if route == "xml":
        status, response_headers, content = await raw_request(app, "POST", TOPUP, raw, body)
        assert 400 <= status < 500, (status, content[:300])
        if status == TOO_LARGE:  # refused by the server-wide header cap, before any route
            assert json.loads(content)["error"] == "header_too_large"
            return
        assert response_headers[b"content-type"].startswith(b"application/xml")
        assert b'<result-code fatal="true" message="' in content
        assert content.rstrip().endswith(b"</result-code></response>")
    else:
        status, _, content = await raw_request(app, "GET", "/demo/reports", raw)
        assert 400 <= status < 500, (status, content[:300])
        envelope = json.loads(content)
        assert set(envelope) == {"error", "message"}
    assert await services.signing_keys.flush() == 0  # nobody was authenticated
    assert await snapshot(services) == before


@pytest.mark.parametrize("length", [b"\xb2", b"-1", b"1e3", b"", b"9" * 40])
async def test_bad_content_length_on_a_signed_request(
    app: FastAPI, services: Services, world: World, length: bytes
) -> None:
    """The guard reads the body of a signed request itself: a Content-Length that is not a
    plain decimal number (``\xb2`` is "²", a digit to ``str.isdigit``) is a 4xx."""
    body = xml_body()
    headers = [(k.lower().encode(), v.encode()) for k, v in signed(body).items()]
    status, _, content = await raw_request(
        app, "POST", TOPUP, [*headers, (b"x-digital-sign-login", b"shop-1")], body, length=length
    )
    assert 400 <= status < 500, (status, content[:200])
    assert await services.signing_keys.flush() == 0


async def test_signed_request_still_passes(app: FastAPI, world: World) -> None:
    """The table's baseline: the same request with the good headers is accepted."""
    body = xml_body()
    headers = [(k.lower().encode(), v.encode()) for k, v in signed(body).items()]
    status, _, content = await raw_request(
        app, "POST", TOPUP, [*headers, (b"x-digital-sign-login", b"shop-1")], body
    )
    assert status == 200, content


async def test_deleted_key_no_longer_signs(
    app: FastAPI, client: httpx.AsyncClient, services: Services, world: World
) -> None:
    """Delete, then use: the key's signatures, its login and its id are refused (401),
    and every management route answers 404 for it."""
    path = f"{KEYS.format(org=world.org)}/{world.key['keyId']}"
    assert (await client.delete(path, headers=world.owner)).status_code == 204
    body = xml_body()
    for extra in ([(b"x-digital-sign-login", b"shop-1")], [(b"x-key-id", path[-36:].encode())], []):
        headers = [(k.lower().encode(), v.encode()) for k, v in signed(body).items()]
        status, _, content = await raw_request(app, "POST", TOPUP, headers + extra, body)
        assert status == 401, content
    before = await snapshot(services)
    for method, suffix, payload in (
        ("GET", "", None),
        ("PATCH", "", {"name": "back"}),
        ("POST", "/disable", None),
        ("POST", "/enable", None),
        ("DELETE", "", None),
    ):
        r = await client.request(method, path + suffix, json=payload, headers=world.owner)
        assert r.status_code == 404 and assert_envelope(r)["error"] == "not_found"
    assert await snapshot(services) == before


async def test_sequential_double_decisions(
    client: httpx.AsyncClient, services: Services, world: World
) -> None:
    """Approve twice, reject after approve, revoke twice: the first wins, the rest are 409
    with nothing written."""
    approve = f"/v1/ca/requests/{world.pending['id']}/approve"
    assert (await client.post(approve, headers=world.admin)).status_code == 200
    before = await snapshot(services)
    again = await client.post(approve, headers=world.admin)
    late = await client.post(
        f"/v1/ca/requests/{world.pending['id']}/reject", json={"reason": "x"}, headers=world.admin
    )
    for r in (again, late):
        assert r.status_code == 409 and assert_envelope(r)["error"] == "conflict"
    assert await snapshot(services) == before
    revoke = f"/v1/orgs/{world.org}/certificates/{world.cert['serial']}/revoke"
    assert (
        await client.post(revoke, json={"reason": "superseded"}, headers=world.owner)
    ).status_code == 200
    before = await snapshot(services)
    r = await client.post(revoke, json={"reason": "keyCompromise"}, headers=world.owner)
    assert r.status_code == 409 and assert_envelope(r)["error"] == "conflict"
    assert await snapshot(services) == before


# -- the guard: client certificates from a trusted proxy --------------------------------------


def _other_pem(kind: str, world: World) -> str:
    ca = make_ca("Stranger CA")
    if kind == "ca-certificate":
        return ca.pem
    if kind == "foreign-leaf":
        return issue(ca, "leaf").pem
    if kind == "private-key":
        return ca.key_pem
    if kind == "public-key":
        return (
            ca.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    if kind == "csr":
        return csr_pem()
    raise AssertionError(kind)


def _pem_body(pem: str) -> str:
    return "".join(pem.strip().splitlines()[1:-1])


CERT_HEADERS: dict[str, Any] = {
    "garbage": lambda w, ca: "garbage",
    "percent-garbage": lambda w, ca: "%FF%FE%00",
    "nul": lambda w, ca: nginx_escaped(w.cert["certificatePem"]).replace("MII", "\x00II", 1),
    "huge": lambda w, ca: "A" * 200_000,
    "huge-pem": lambda w, ca: nginx_escaped(
        "-----BEGIN CERTIFICATE-----\n" + "QUFB" * 50_000 + "\n-----END CERTIFICATE-----\n"
    ),
    "begin-only": lambda w, ca: nginx_escaped("-----BEGIN CERTIFICATE-----\nMIIB\n"),
    "empty-pem": lambda w, ca: nginx_escaped(
        "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
    ),
    "bad-base64": lambda w, ca: nginx_escaped(
        "-----BEGIN CERTIFICATE-----\n*not base64*\n-----END CERTIFICATE-----\n"
    ),
    "der-not-a-certificate": lambda w, ca: nginx_escaped(
        "-----BEGIN CERTIFICATE-----\n"
        + base64.b64encode(b"\x30\x03\x02\x01\x00").decode()
        + "\n-----END CERTIFICATE-----\n"
    ),
    "certificate-with-trailing-der": lambda w, ca: nginx_escaped(
        "-----BEGIN CERTIFICATE-----\n"
        + base64.b64encode(
            x509.load_pem_x509_certificate(w.cert["certificatePem"].encode()).public_bytes(
                serialization.Encoding.DER
            )
            + b"\x00\x00"
        ).decode()
        + "\n-----END CERTIFICATE-----\n"
    ),
    "several-foreign-first": lambda w, ca: nginx_escaped(
        _other_pem("foreign-leaf", w) + w.cert["certificatePem"]
    ),
    "propusk-ca-certificate": lambda w, ca: nginx_escaped(ca),
    "foreign-ca-certificate": lambda w, ca: nginx_escaped(_other_pem("ca-certificate", w)),
    "private-key": lambda w, ca: nginx_escaped(_other_pem("private-key", w)),
    "public-key": lambda w, ca: nginx_escaped(_other_pem("public-key", w)),
    "csr": lambda w, ca: nginx_escaped(_other_pem("csr", w)),
    "raw-pem-unescaped-newlines-folded": lambda w, ca: (
        "-----BEGIN CERTIFICATE----- " + _pem_body(w.cert["certificatePem"])[:40]
    ),
}


def _as_header_bytes(value: str) -> bytes:
    return value.encode("latin-1", "backslashreplace")


@pytest.mark.parametrize("name", list(CERT_HEADERS))
async def test_hostile_certificate_headers_from_a_trusted_proxy(
    app: FastAPI, client: httpx.AsyncClient, services: Services, world: World, name: str
) -> None:
    """Whatever a trusted proxy puts in the header, a certificate that is not one issued by
    the Propusk CA is 401 invalid_token in the JSON envelope (never 500, never anonymous),
    on a guarded route, on forward-auth and on the token endpoint that binds tokens."""
    ca_pem = (await client.get("/v1/ca/certificate")).text
    value = _as_header_bytes(CERT_HEADERS[name](world, ca_pem))
    url = f"/demo/apps/{world.apps[0]}/reviews"
    before = await snapshot(services)
    status, _, content = await raw_request(app, "GET", url, [(CERT_HEADER.lower().encode(), value)])
    if status == TOO_LARGE:
        assert json.loads(content)["error"] == "header_too_large"
        return
    assert status == 401, (status, content[:300])
    assert json.loads(content)["error"] == "invalid_token"
    question = [
        (b"x-original-method", b"GET"),
        (b"x-original-uri", url.encode()),
        (CERT_HEADER.lower().encode(), value),
    ]
    status, _, content = await raw_request(app, "GET", "/v1/authorize", question)
    assert status == 401, (status, content[:300])
    assert await snapshot(services) == before


async def test_good_certificate_header_still_passes(
    client: httpx.AsyncClient, world: World
) -> None:
    """The baseline: the issued certificate, and the certificate followed by its chain as
    nginx forwards it with ``ssl_verify_depth``, are accepted."""
    url = f"/demo/apps/{world.apps[0]}/reviews"
    chain = (await client.get("/v1/ca/certificate")).text
    for pem in (world.cert["certificatePem"], world.cert["certificatePem"] + chain):
        r = await client.get(url, headers={CERT_HEADER: nginx_escaped(pem)})
        assert r.status_code == 200, r.text


XFCC_VALUES: dict[str, Any] = {
    "garbage": lambda pem: "garbage",
    "unbalanced-quote": lambda pem: 'Cert="' + quote(pem, safe=""),
    "no-cert-field": lambda pem: "By=spiffe://x;Hash=abcd",
    "empty-cert": lambda pem: 'Hash=ab;Cert=""',
    "cert-garbage": lambda pem: 'Cert="%%%"',
    "cert-key": lambda pem: xfcc(make_ca().key_pem),
    "cert-ca": lambda pem: xfcc(make_ca().pem),
    "good-cert-not-last": lambda pem: xfcc(make_ca().pem, before=xfcc(pem)),
    "many-elements": lambda pem: ",".join(["Hash=ab"] * 1000),
    "deep-escapes": lambda pem: 'Cert="' + "\\" * 4000 + '"',
    "nested-quotes": lambda pem: 'Cert="a\\"b";Cert="c"',
    "trailing-comma": lambda pem: xfcc(pem) + ",",
    "semicolon-storm": lambda pem: ";" * 6000,
}


class TestEnvoyHeader:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "trusted_proxies": [f"{PROXY}/32"],
            "client_cert_header": "X-Forwarded-Client-Cert",
            "client_cert_header_format": "envoy",
        }

    @pytest.mark.parametrize("name", list(XFCC_VALUES))
    async def test_hostile_xfcc(
        self, app: FastAPI, services: Services, world: World, name: str
    ) -> None:
        value = XFCC_VALUES[name](world.cert["certificatePem"]).encode("latin-1")
        url = f"/demo/apps/{world.apps[0]}/reviews"
        before = await snapshot(services)
        status, _, content = await raw_request(
            app, "GET", url, [(b"x-forwarded-client-cert", value)]
        )
        assert status in (401, TOO_LARGE), (status, content[:300])
        if status == TOO_LARGE:
            assert json.loads(content)["error"] == "header_too_large"
            return
        assert json.loads(content)["error"] == "invalid_token"
        assert await snapshot(services) == before


async def test_certificate_header_from_a_stranger_is_ignored_even_when_hostile(
    app: FastAPI, services: Services, world: World
) -> None:
    """Not a trusted proxy: the header is not read at all (no credential: 401)."""
    url = f"/demo/apps/{world.apps[0]}/reviews"
    for value in (b"\x00" * 10, b"A" * 4000, nginx_escaped(world.cert["certificatePem"]).encode()):
        status, _, content = await raw_request(
            app, "GET", url, [(CERT_HEADER.lower().encode(), value)], client="198.51.100.9"
        )
        assert status == 401, content
        assert json.loads(content)["error"] == "unauthenticated"


async def test_token_endpoint_with_a_hostile_certificate_header(
    client: httpx.AsyncClient, services: Services, world: World
) -> None:
    """The login route binds tokens to the presented certificate only when that is on;
    an unreadable header from the trusted proxy never becomes a 500 there either."""
    r = await client.post(
        "/v1/auth/login",
        json={"username": "hostile-owner@example.com", "password": "x" * 12},
        headers={CERT_HEADER: "%FF%00garbage"},
    )
    assert_envelope(r)


async def test_refused_xml_password_logs_neither_forged_lines_nor_the_password(
    app: FastAPI, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The terminal id is the caller's text: a line break in it must not start a forged log
    line, and the password tried is never logged."""
    body = xml_body("10001&#10;guard: POST /x allowed", password="tried secret 1")
    caplog.set_level("INFO", logger="propusk")
    status, _, content = await raw_request(
        app, "POST", TOPUP, [(b"content-type", b"text/xml")], body
    )
    assert status == 401 and content.rstrip().endswith(b"150</result-code></response>")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused" in logged
    assert "\nguard: POST /x allowed" not in logged
    assert "tried secret 1" not in logged
