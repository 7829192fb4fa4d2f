"""Client certificates in the guard: the ASGI TLS extension, the proxy headers (nginx,
Envoy) believed only from trusted proxies, the authenticator, and certificate-bound
tokens (RFC 8705)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from propusk.core.catalog import parse_catalog
from propusk.core.cnf import x5t_s256
from propusk.core.errors import InvalidToken
from propusk.core.principals import Principal
from propusk.guard import PropuskGuard, RequestView, principal_of
from propusk.guard.gate import Gate, Refusal
from propusk.guard.request import TLS_CLIENT_CERT, request_view, tls_client_cert
from propusk.guard.verifiers.client_cert import (
    CertificateSource,
    ClientCertificate,
    parse_escaped_pem,
    parse_xfcc,
)
from tests.mtls_support import Issued, issue, make_ca, nginx_escaped, xfcc

PROXY = "10.0.0.5"
HEADER = "x-ssl-client-cert"


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Guard test CA")


@pytest.fixture(scope="module")
def alice(ca: Issued) -> Issued:
    return issue(ca, "alice")


class CaVerifier:
    """A verifier for a resource API that trusts one CA: signature, validity, EKU. (The
    server's own one, ``Certificates.principal_for``, also checks revocation.)"""

    def __init__(self, ca: Issued) -> None:
        self.ca = ca.cert

    async def principal_for(self, cert: x509.Certificate) -> Principal:
        try:
            cert.verify_directly_issued_by(self.ca)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise InvalidToken(detail=f"foreign certificate: {type(exc).__name__}") from None
        if not cert.not_valid_before_utc <= datetime.now(UTC) < cert.not_valid_after_utc:
            raise InvalidToken(detail="outside validity")
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
            raise InvalidToken(detail="no clientAuth")
        return Principal(
            subject=format(cert.serial_number, "x"),
            method="mtls",
            kind="certificate",
            org_id="org-1",
            methods=frozenset({"things.read"}),
            apps=None,
            cert_thumbprint=x5t_s256(cert.public_bytes(serialization.Encoding.DER)),
        )


def view(
    *,
    client: str | None = "198.51.100.9",
    headers: Mapping[str, str] | None = None,
    der: bytes | None = None,
) -> RequestView:
    return RequestView(
        method="GET",
        path="/things",
        headers=dict(headers or {}),
        client=client,
        extra={TLS_CLIENT_CERT: der} if der is not None else {},
    )


# -- the ASGI TLS extension -------------------------------------------------------------


def tls_scope(chain: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "path": "/x",
        "headers": [],
        "extensions": {"tls": {"client_cert_chain": chain, "tls_version": 0x0304}},
    }


def test_tls_extension_leaf_becomes_der(alice: Issued) -> None:
    assert tls_client_cert(tls_scope([alice.pem])) == alice.der
    assert request_view(tls_scope([alice.pem])).extra == {TLS_CLIENT_CERT: alice.der}


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"extensions": None},
        {"extensions": {}},
        {"extensions": {"tls": None}},
        {"extensions": {"tls": {}}},
        tls_scope([]),
        tls_scope(None),
        tls_scope("-----BEGIN CERTIFICATE-----"),
        tls_scope([b"bytes"]),
        tls_scope(["not a pem"]),
    ],
)
def test_no_usable_tls_certificate_is_no_certificate(scope: dict[str, Any]) -> None:
    assert tls_client_cert(scope) is None
    full = {"type": "http", "path": "/x", "headers": [], **scope}
    assert request_view(full).extra == {}


# -- header formats ---------------------------------------------------------------------


def test_nginx_escaped_cert(alice: Issued) -> None:
    assert parse_escaped_pem(nginx_escaped(alice.pem)) == alice.der
    # nginx leaves some characters unescaped; "+" stays a plus either way.
    assert parse_escaped_pem(alice.pem.replace("\n", "%0A")) == alice.der


def test_envoy_xfcc_takes_the_last_element(alice: Issued, ca: Issued) -> None:
    other = issue(ca, "mallory")
    assert parse_xfcc(xfcc(alice.pem)) == alice.der
    # An element a client smuggled in first is not the one the trusted hop appended.
    assert parse_xfcc(xfcc(alice.pem, before=xfcc(other.pem))) == alice.der
    quoted_comma = f'Subject="CN=a, O=b";Cert="{nginx_escaped(alice.pem)}"'
    assert parse_xfcc(quoted_comma) == alice.der
    escaped_quote = f'Subject="CN=\\"x,y\\";z";Cert={nginx_escaped(alice.pem)}'
    assert parse_xfcc(escaped_quote) == alice.der


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "-----BEGIN CERTIFICATE-----",
        "-----BEGIN%20CERTIFICATE-----%0AAAAA",
        "-----BEGIN%20CERTIFICATE-----%0A%%%%%0A-----END%20CERTIFICATE-----",
        "-----BEGIN%20CERTIFICATE-----%0A%FF%FE%0A-----END%20CERTIFICATE-----",
        "-----BEGIN%20PRIVATE%20KEY-----%0AAAAA%0A-----END%20PRIVATE%20KEY-----",
    ],
)
def test_bad_escaped_pem(value: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each row fails a different check
        parse_escaped_pem(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        ",",
        "By=x;Hash=y",
        'Cert="unterminated',
        "Cert=",
        'Cert="garbage"',
        "Hash=1,By=2",
        "Cert=a b c;",
        'Hash=1 Cert="x"',
        # Long unterminated values: refused in linear time (no regex backtracking blow-up).
        'Cert="' + "a" * 5000,
        'Cert="' + "a\\b" * 3000,
        'Subject="' + "a," * 4000,
    ],
)
def test_bad_xfcc(value: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each row fails a different check
        parse_xfcc(value)


# -- where the certificate comes from -----------------------------------------------------


def source(fmt: str = "nginx") -> CertificateSource:
    return CertificateSource(header=HEADER, header_format=fmt, trusted_proxies=[f"{PROXY}/32"])  # type: ignore[arg-type]


def test_header_from_trusted_proxy_is_read(alice: Issued) -> None:
    request = view(client=PROXY, headers={HEADER: nginx_escaped(alice.pem)})
    assert source().presented(request) == alice.der


def test_envoy_header_from_trusted_proxy_is_read(alice: Issued) -> None:
    src = CertificateSource(
        header="X-Forwarded-Client-Cert", header_format="envoy", trusted_proxies=[f"{PROXY}/32"]
    )
    request = view(client=PROXY, headers={"x-forwarded-client-cert": xfcc(alice.pem)})
    assert src.presented(request) == alice.der


def test_header_from_anyone_else_is_ignored_and_logged(
    alice: Issued, caplog: pytest.LogCaptureFixture
) -> None:
    spoofed = view(client="198.51.100.9", headers={HEADER: nginx_escaped(alice.pem)})
    with caplog.at_level(logging.WARNING, logger="propusk.guard"):
        assert source().presented(spoofed) is None
    assert "ignored: not a trusted proxy" in caplog.text
    assert "198.51.100.9" in caplog.text


def test_header_without_trusted_proxies_is_never_read(alice: Issued) -> None:
    src = CertificateSource(header=HEADER)
    assert src.presented(view(client=PROXY, headers={HEADER: nginx_escaped(alice.pem)})) is None


def test_untrusted_peer_keeps_its_own_tls_certificate(alice: Issued, ca: Issued) -> None:
    other = issue(ca, "other")
    request = view(headers={HEADER: nginx_escaped(other.pem)}, der=alice.der)
    assert source().presented(request) == alice.der


def test_trusted_proxy_tls_certificate_is_the_proxys_not_the_clients(alice: Issued) -> None:
    # nginx talking mTLS to Propusk with its own certificate, no client certificate header.
    assert source().presented(view(client=PROXY, der=alice.der)) is None
    assert source().presented(view(client=PROXY, headers={HEADER: ""}, der=alice.der)) is None


def test_without_a_header_setting_tls_is_the_source(alice: Issued) -> None:
    assert CertificateSource().presented(view(der=alice.der)) == alice.der
    assert CertificateSource().presented(view()) is None


def test_garbage_from_trusted_proxy_is_refused() -> None:
    with pytest.raises(InvalidToken):
        source().presented(view(client=PROXY, headers={HEADER: "garbage"}))


def test_bad_trusted_proxy_setting() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        CertificateSource(trusted_proxies=["not a network"])


# -- the verifier --------------------------------------------------------------------------


async def test_verifier_maps_the_certificate(alice: Issued, ca: Issued) -> None:
    verifier = ClientCertificate(CertificateSource(), CaVerifier(ca))
    assert verifier.present(view(der=alice.der))
    principal = await verifier.verify(view(der=alice.der))
    assert principal.kind == "certificate" and principal.method == "mtls"
    assert principal.subject == format(alice.cert.serial_number, "x")
    assert principal.cert_thumbprint == x5t_s256(alice.der)
    assert not verifier.present(view())


@pytest.mark.parametrize(
    "make",
    [
        lambda ca: issue(make_ca("Foreign CA"), "foreign"),
        lambda ca: issue(None, "self-signed"),
        lambda ca: issue(ca, "expired", days=(-30, -1)),
        lambda ca: issue(ca, "not yet", days=(1, 30)),
        lambda ca: issue(ca, "server", usage=ExtendedKeyUsageOID.SERVER_AUTH),
    ],
    ids=["foreign-ca", "self-signed", "expired", "not-yet-valid", "wrong-eku"],
)
async def test_verifier_refuses(ca: Issued, make: Any) -> None:
    verifier = ClientCertificate(CertificateSource(), CaVerifier(ca))
    with pytest.raises(InvalidToken):
        await verifier.verify(view(der=make(ca).der))


async def test_verifier_refuses_unparsable_der(ca: Issued) -> None:
    verifier = ClientCertificate(CertificateSource(), CaVerifier(ca))
    with pytest.raises(InvalidToken):
        await verifier.verify(view(der=b"\x30\x03\x02\x01\x01"))


async def test_garbage_from_a_trusted_proxy_is_a_present_credential(ca: Issued) -> None:
    """A trusted proxy's unreadable header is refused, never taken as "no certificate"."""
    verifier = ClientCertificate(source(), CaVerifier(ca))
    garbage = view(client=PROXY, headers={HEADER: "not a certificate"})
    with pytest.raises(InvalidToken):
        verifier.present(garbage)
    refusal = await Gate(catalog=parse_catalog(CATALOG), verifiers=[verifier]).check(garbage)
    assert isinstance(refusal, Refusal) and refusal.method == "mtls"
    assert refusal.error.status == 401


# -- certificate-bound tokens (the gate holds a bound token to its certificate) -------------


class FixedToken:
    """A verifier of the tests' own that proves a fixed principal (None: absent)."""

    method: Literal["bearer"] = "bearer"
    dialect = None

    def __init__(self, principal: Principal | None) -> None:
        self.principal = principal

    def present(self, request: RequestView) -> bool:
        return self.principal is not None

    def wants_body(self, request: RequestView) -> bool:
        return False

    async def verify(self, request: RequestView) -> Principal:
        assert self.principal is not None
        return self.principal


def token_principal(thumbprint: str | None) -> Principal:
    return Principal(subject="acct", method="bearer", cert_thumbprint=thumbprint)


def bound_gate(principal: Principal | None, certificates: CertificateSource) -> Gate:
    catalog = parse_catalog(CATALOG)
    return Gate(catalog=catalog, verifiers=[FixedToken(principal)], certificates=certificates)


async def test_bound_token_passes_with_its_certificate(alice: Issued) -> None:
    gate = bound_gate(token_principal(x5t_s256(alice.der)), CertificateSource())
    assert await gate.identify(view(der=alice.der)) is not None


async def test_bound_token_is_refused_without_or_with_another_certificate(
    alice: Issued, ca: Issued
) -> None:
    gate = bound_gate(token_principal(x5t_s256(alice.der)), CertificateSource())
    with pytest.raises(InvalidToken, match="token is invalid"):
        await gate.identify(view())
    with pytest.raises(InvalidToken):
        await gate.identify(view(der=issue(ca, "bob").der))


async def test_bound_token_through_a_spoofed_header_is_refused(alice: Issued) -> None:
    gate = bound_gate(token_principal(x5t_s256(alice.der)), source())
    with pytest.raises(InvalidToken):
        await gate.identify(view(headers={HEADER: nginx_escaped(alice.pem)}))
    ok = view(client=PROXY, headers={HEADER: nginx_escaped(alice.pem)})
    assert await gate.identify(ok) is not None


async def test_unbound_tokens_and_absent_tokens_pass_unchanged(alice: Issued) -> None:
    assert await bound_gate(None, CertificateSource()).identify(view()) is None
    unbound = token_principal(None)
    gate = bound_gate(unbound, CertificateSource())
    assert await gate.identify(view()) is unbound
    assert await gate.identify(view(der=alice.der)) is unbound


# -- the guard with a TLS-terminating ASGI server ---------------------------------------------

CATALOG = """
public = ["GET /health"]

[[methods]]
name = "things.read"
kind = "general"
description = "Read things"
routes = ["GET /things"]

[roles]
user = ["things.read"]
"""


class WithTLS:
    """What Uvicorn plus propusk.web.tls.TLSExtensionProtocol hands the app."""

    def __init__(self, app: ASGIApp, pem: str | None) -> None:
        self.app, self.pem = app, pem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            chain = [self.pem] if self.pem else []
            scope["extensions"] = {"tls": {"client_cert_chain": chain}}
        await self.app(scope, receive, send)


def guarded(ca: Issued, pem: str | None) -> httpx.AsyncClient:
    api = FastAPI()

    @api.get("/things")
    async def things(request: Request) -> dict[str, Any]:
        principal = principal_of(request.scope)
        assert principal is not None
        return {"subject": principal.subject, "method": principal.method}

    verifier = ClientCertificate(CertificateSource(), CaVerifier(ca))
    api.add_middleware(
        PropuskGuard, gate=Gate(catalog=parse_catalog(CATALOG), verifiers=[verifier])
    )
    transport = httpx.ASGITransport(app=WithTLS(api, pem))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def test_guard_lets_a_valid_certificate_in(ca: Issued, alice: Issued) -> None:
    async with guarded(ca, alice.pem) as http:
        r = await http.get("/things")
    assert r.status_code == 200, r.text
    assert r.json() == {"subject": format(alice.cert.serial_number, "x"), "method": "mtls"}


async def test_guard_refuses_no_or_foreign_certificate(ca: Issued) -> None:
    async with guarded(ca, None) as http:
        assert (await http.get("/things")).status_code == 401
    async with guarded(ca, issue(make_ca("Other"), "x").pem) as http:
        r = await http.get("/things")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
