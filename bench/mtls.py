"""Client-certificate authentication in process (``python -m bench mtls``, also in ``all``).

A real :class:`~propusk.wiring.Services` over a temporary SQLite database: a CA
(``ca.init``), an org, an app and a client certificate issued through
:meth:`Certificates.approve <propusk.services.certificates.Certificates.approve>`. The
baseline is what any verifier must do at least: ``cryptography``'s
``Certificate.verify_directly_issued_by`` (one ECDSA P-256 signature check) of the parsed
certificate. Then, each the best of rounds of the same call:

- the header parsers: nginx ``$ssl_client_escaped_cert`` and Envoy XFCC → DER;
- ``load_der_x509_certificate`` of that DER;
- :meth:`CertificateSource.presented` for a trusted proxy's header (address check + parse);
- :class:`ClientCertificate` ``verify`` on a request view carrying the
  header: parse, load, :meth:`Certificates.principal_for` (signature result and record
  state cached, as between two re-reads) — the request path;
- the same with the record state dropped before each call (a primary-key read, which
  happens every ``key_state_ttl``);
- the same with the signature cache cleared too (a certificate seen for the first time);
- the RFC 8705 binding check of a bound token (:meth:`Gate.identify` over a verifier
  returning the bound principal).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.budget import Budget
from bench.report import Section
from propusk.config import load_settings
from propusk.core.csr import parse_csr_pem, parse_subject
from propusk.core.principals import Principal
from propusk.guard.gate import Gate
from propusk.guard.request import RequestView
from propusk.guard.verifiers.client_cert import (
    CertificateSource,
    ClientCertificate,
    parse_escaped_pem,
    parse_xfcc,
)
from propusk.services.audit import Origin
from propusk.services.scopes import KeyScope
from propusk.storage import migrate
from propusk.wiring import Services, build_services

__all__ = ["run"]

HEADERS = ("step", "us/op", "ops/s", "x baseline")
HEADER = "x-ssl-client-cert"
PROXY = "10.0.0.5"


def _row(label: str, seconds: float, baseline: float | None) -> tuple[str, ...]:
    ratio = f"{seconds / baseline:.2f}" if baseline else "-"
    return (label, f"{seconds * 1e6:,.2f}", f"{1 / seconds:,.0f}", ratio)


def _best_sync(op: Callable[[], object], seconds: float, per_round: int) -> float:
    best, rounds = float("inf"), 0
    deadline = time.perf_counter() + seconds
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(per_round):
            op()
        best = min(best, (time.perf_counter() - start) / per_round)
        rounds += 1
    return best


async def _best_async(op: Callable[[], Awaitable[object]], seconds: float, per_round: int) -> float:
    best, rounds = float("inf"), 0
    deadline = time.perf_counter() + seconds
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(per_round):
            await op()
        best = min(best, (time.perf_counter() - start) / per_round)
        rounds += 1
    return best


class _Fixed:
    """A verifier that proves one fixed (bound) account principal."""

    method: Literal["bearer"] = "bearer"
    dialect = None

    def __init__(self, principal: Principal) -> None:
        self.principal = replace(principal, method="bearer")

    def present(self, request: RequestView) -> bool:
        return True

    def wants_body(self, request: RequestView) -> bool:
        return False

    async def verify(self, request: RequestView) -> Principal:
        return self.principal


async def _issued(services: Services) -> x509.Certificate:
    origin = Origin(ip="127.0.0.1", user_agent="bench")
    await services.ca.init(origin)
    admin_id, _ = await services.accounts.create_admin("mtls@bench.example", "bench-pass-1", origin)
    org = await services.orgs.create(admin_id, "bench org", "company", origin)
    app = await services.orgs.create_app(admin_id, org.id, "bench app", origin)
    admin = Principal(subject=admin_id, method="bearer", roles=frozenset({"user", "admin"}))
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(parse_subject("/C=RU/O=Bench/CN=gateway"))
        .sign(key, hashes.SHA256())
    )
    valid = parse_csr_pem(csr.public_bytes(serialization.Encoding.PEM).decode())
    scope = KeyScope([app.id], False, ["reviews.read"])
    request = await services.certificates.submit(admin, org.id, valid, scope, origin)
    view = await services.certificates.approve(admin, request.id, origin)
    return x509.load_pem_x509_certificate(view.pem.encode())


async def _measure(services: Services, budget: Budget, section: Section) -> None:
    seconds = budget.authorize_seconds
    cert = await _issued(services)
    _, ca = await services.ca.material()
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    der = cert.public_bytes(serialization.Encoding.DER)
    escaped = quote(pem, safe="")
    xfcc = f'By=spiffe://bench;Hash=00;Cert="{escaped}";Subject="CN=gateway"'
    view = RequestView(method="GET", path="/demo/x", headers={HEADER: escaped}, client=PROXY)
    source = CertificateSource(header=HEADER, trusted_proxies=[f"{PROXY}/32"])
    auth = ClientCertificate(source, services.certificates)
    principal = await auth.verify(view)
    assert principal.method == "mtls"
    serial = principal.subject

    raw = _best_sync(lambda: cert.verify_directly_issued_by(ca.certificate), seconds, 200)
    section.rows.append(_row("baseline: verify_directly_issued_by (P-256)", raw, None))
    steps: list[tuple[str, Callable[[], object], int]] = [
        ("parse nginx $ssl_client_escaped_cert", lambda: parse_escaped_pem(escaped), 2000),
        ("parse Envoy x-forwarded-client-cert", lambda: parse_xfcc(xfcc), 1000),
        ("load_der_x509_certificate", lambda: x509.load_der_x509_certificate(der), 2000),
        ("CertificateSource.presented (trusted proxy)", lambda: source.presented(view), 2000),
    ]
    for label, op, per_round in steps:
        section.rows.append(_row(label, _best_sync(op, seconds, per_round), raw))

    warm = await _best_async(lambda: auth.verify(view), seconds, 1000)
    section.rows.append(_row("verify: header + principal_for (cached)", warm, raw))

    async def state_read() -> None:
        services.certificates.invalidate(serial)
        await auth.verify(view)

    cold = await _best_async(state_read, seconds, 200)
    section.rows.append(_row("verify, record state re-read (PK read)", cold, raw))

    verified = services.certificates._verified  # the signature cache, to measure a miss

    async def first_sight() -> None:
        verified.clear()
        services.certificates.invalidate(serial)
        await auth.verify(view)

    fresh = await _best_async(first_sight, seconds, 100)
    section.rows.append(_row("verify, first sight (signature + PK read)", fresh, raw))

    bound = Gate(catalog=services.catalog, verifiers=[_Fixed(principal)], certificates=source)
    check = await _best_async(lambda: bound.identify(view), seconds, 2000)
    section.rows.append(_row("RFC 8705 binding check of a bound token", check, raw))
    section.notes.append(
        "x baseline = time / one ECDSA P-256 signature verification of the parsed certificate;"
        " the cached request path needs no signature check at all"
    )


def run(budget: Budget) -> Section:
    section = Section(
        title="Client-certificate authentication (SQLite, in process)", headers=HEADERS
    )
    with tempfile.TemporaryDirectory(prefix="propusk-bench-mtls-") as tmp:
        path = Path(tmp)
        url = f"sqlite+aiosqlite:///{path / 'bench.db'}"
        migrate.upgrade(url)
        config = path / "propusk.toml"
        config.write_text("", encoding="utf-8")
        settings = load_settings(
            config, environ={}, data_dir=path, database_url=url, issuer="http://bench"
        )

        async def main() -> None:
            services = build_services(settings, master_key=secrets.token_bytes(32))
            try:
                await services.keyring.ensure_signing_key()
                await _measure(services, budget, section)
            finally:
                await services.close()

        asyncio.run(main())
    return section
