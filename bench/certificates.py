"""The built-in CA (``python -m bench certificates``, also part of ``all``), in process over a
real :class:`~propusk.wiring.Services` on a temporary SQLite database:

1. **Issuance**: signing a client certificate with ``cryptography`` alone (a
   ``CertificateBuilder`` with the same subject, key and extensions, signed by the same
   ECDSA P-256 CA key) is the baseline; then :func:`propusk.core.pki.issue_client_certificate`
   (the same plus the pure-core checks), then
   :meth:`Certificates.approve <propusk.services.certificates.Certificates.approve>` of
   pending requests (CSR re-parse, scope re-check, conditional update, certificate row and
   two audit events in one unit of work).
2. **Revocation check**: :meth:`Certificates.principal_for` of a valid certificate while the
   table holds 1k, then 1M (``--quick``: 100k) revoked certificates — with the state cached
   (the request path between two re-reads) and with the cache dropped before each call (a
   primary-key read, what happens every ``key_state_ttl``). A ``set`` membership test is
   the baseline. The ratio 1M/1k shows the cost does not grow.
3. **CRL**: :func:`propusk.core.pki.build_crl` of 100k entries (``--quick``: 10k), and
   :meth:`CertificateAuthority.crl_der` rebuilding it from the database; an empty CRL is the
   baseline.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import insert, update

from bench.budget import Budget
from bench.report import Section
from propusk.config import load_settings
from propusk.core.csr import parse_csr_pem, parse_subject
from propusk.core.pki import RevokedEntry, build_crl, issue_client_certificate
from propusk.services.audit import Origin
from propusk.services.scopes import KeyScope
from propusk.storage import migrate
from propusk.storage.models import CaCertificate, Certificate
from propusk.wiring import Services, build_services

__all__ = ["run"]

HEADERS = ("step", "us/op", "ops/s", "x baseline", "baseline")
CHUNK = 20_000


def _row(label: str, seconds: float, baseline: float | None, base_label: str) -> tuple[str, ...]:
    ratio = f"{seconds / baseline:.1f}" if baseline else "-"
    return (label, f"{seconds * 1e6:,.2f}", f"{1 / seconds:,.0f}", ratio, base_label)


def _best_sync(op: Callable[[], object], seconds: float, per_round: int) -> float:
    best = float("inf")
    rounds = 0
    deadline = time.perf_counter() + seconds
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(per_round):
            op()
        best = min(best, (time.perf_counter() - start) / per_round)
        rounds += 1
    return best


async def _best_async(op: Callable[[], Awaitable[object]], seconds: float, per_round: int) -> float:
    best = float("inf")
    rounds = 0
    deadline = time.perf_counter() + seconds
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(per_round):
            await op()
        best = min(best, (time.perf_counter() - start) / per_round)
        rounds += 1
    return best


def _csr(key: ec.EllipticCurvePrivateKey) -> str:
    built = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(parse_subject("/C=RU/O=Bench/CN=gateway"))
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM).decode()


def _raw_sign(
    ca_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    csr: x509.CertificateSigningRequest,
    now: datetime,
) -> x509.Certificate:
    public = csr.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("urn:propusk:x")]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


async def _revoked_rows(services: Services, org: str, kid: str, count: int) -> None:
    now = datetime.now(UTC)
    for start in range(0, count, CHUNK):
        rows = []
        for _ in range(min(CHUNK, count - start)):
            serial = format(secrets.randbits(158) | (1 << 158), "x")
            rows.append(
                {
                    "serial": serial,
                    "org_id": org,
                    "ca_kid": kid,
                    "subject": "/CN=revoked",
                    "apps": [],
                    "methods": [],
                    "not_before": now,
                    "not_after": now + timedelta(days=365),
                    "status": "revoked",
                    "revoked_at": now,
                    "revocation_reason": "keyCompromise",
                    "thumbprint": serial,
                    "pem": "",
                    "created_at": now,
                }
            )
        async with services.db.session() as session:
            await session.execute(insert(Certificate), rows)


async def _measure(services: Services, budget: Budget, section: Section) -> None:
    seconds = budget.authorize_seconds
    quick = seconds < 1
    origin = Origin(ip="127.0.0.1", user_agent="bench")
    await services.ca.init(origin)
    admin_id, _ = await services.accounts.create_admin(
        "ca@bench.example", "bench-pass-1234", origin
    )
    org = await services.orgs.create(admin_id, "bench org", "company", origin)
    app = await services.orgs.create_app(admin_id, org.id, "bench app", origin)
    from propusk.core.principals import Principal

    admin = Principal(subject=admin_id, method="bearer", roles=frozenset({"user", "admin"}))
    kid, ca = await services.ca.material()
    ca_key = ca.private_key
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    partner = ec.generate_private_key(ec.SECP256R1())
    csr_pem = _csr(partner)
    valid = parse_csr_pem(csr_pem)
    now = datetime.now(UTC)
    scope = KeyScope([app.id], False, ["reviews.read"])

    # 1. issuance
    raw = _best_sync(lambda: _raw_sign(ca_key, ca.certificate.subject, valid.csr, now), seconds, 50)
    core = _best_sync(
        lambda: issue_client_certificate(
            ca, valid, serial=secrets.randbits(158) | (1 << 158), now=now, days=365,
            org_id=org.id, request_id="r",
        ),
        seconds,
        50,
    )  # fmt: skip
    approvals = 30 if quick else 200
    pending = [
        (await services.certificates.submit(admin, org.id, valid, scope, origin)).id
        for _ in range(approvals)
    ]
    started = time.perf_counter()
    issued = None
    for request_id in pending:
        issued = await services.certificates.approve(admin, request_id, origin)
    service = (time.perf_counter() - started) / approvals
    base = "cryptography sign"
    section.rows.append(_row("issue: cryptography CertificateBuilder.sign (P-256)", raw, None, "-"))
    section.rows.append(_row("issue: core issue_client_certificate", core, raw, base))
    section.rows.append(
        _row(f"issue: Certificates.approve ({approvals} requests)", service, raw, base)
    )

    # 2. revocation check at 1k and 1M (quick: 100k) revoked serials
    assert issued is not None
    cert = x509.load_pem_x509_certificate(issued.pem.encode())
    big = 100_000 if quick else 1_000_000
    serials = {format(secrets.randbits(158), "x") for _ in range(big)}
    probe = issued.serial
    member = _best_sync(lambda: probe in serials, seconds, 10_000)
    section.rows.append(_row(f"revoked? set membership ({big:,} serials)", member, None, "-"))
    checks: dict[int, tuple[float, float]] = {}
    done = 0
    for size in (1_000, big):
        t0 = time.perf_counter()
        await _revoked_rows(services, org.id, kid, size - done)
        done = size
        section.notes.append(
            f"{size:,} revoked rows in place after {time.perf_counter() - t0:.1f} s more"
        )
        await services.certificates.principal_for(cert)
        # A warm-up pass (discarded): the first timed phase must not pay for cold caches.
        await _best_async(lambda: services.certificates.principal_for(cert), seconds, 1000)
        hit = await _best_async(lambda: services.certificates.principal_for(cert), seconds, 1000)

        async def miss() -> None:
            services.certificates.invalidate(probe)
            await services.certificates.principal_for(cert)

        cold = await _best_async(miss, seconds, 200)
        checks[size] = (hit, cold)
        section.rows.append(
            _row(f"principal_for, cached state, {size:,} revoked", hit, member, "set")
        )
        section.rows.append(_row(f"principal_for, PK read, {size:,} revoked", cold, member, "set"))
        if size == 1_000:
            await _crl(services, ca, kid, section, seconds, 10_000 if quick else 100_000, org.id)
            done = max(done, 10_000 if quick else 100_000)
    (h1, c1), (h2, c2) = checks[1_000], checks[big]
    section.notes.append(
        f"revocation check {big:,} vs 1,000 revoked: cached x{h2 / h1:.2f}, PK read x{c2 / c1:.2f}"
        " (1.0 = no growth)"
    )


async def _crl(services: Services, ca: object, kid: str, section: Section, seconds: float,
               entries: int, org: str) -> None:  # fmt: skip
    from propusk.core.pki import CaMaterial

    assert isinstance(ca, CaMaterial)
    now = datetime.now(UTC)
    empty = _best_sync(
        lambda: build_crl(ca, [], now=now, next_update=now + timedelta(days=1), number=1),
        seconds,
        20,
    )
    section.rows.append(_row("CRL: build_crl, empty", empty, None, "-"))
    fake = [
        RevokedEntry(secrets.randbits(158) | (1 << 158), now, "keyCompromise")
        for _ in range(entries)
    ]
    start = time.perf_counter()
    crl = build_crl(ca, fake, now=now, next_update=now + timedelta(days=1), number=2)
    core = time.perf_counter() - start
    size = len(crl.public_bytes(serialization.Encoding.DER))
    section.rows.append(_row(f"CRL: build_crl, {entries:,} entries", core, empty, "empty CRL"))
    await _revoked_rows(services, org, kid, entries - 1_000)
    async with services.db.session() as session:
        await session.execute(
            update(CaCertificate).values(revocations=CaCertificate.revocations + 1)
        )
    services.ca.changed()
    start = time.perf_counter()
    der = await services.ca.crl_der()
    rebuilt = time.perf_counter() - start
    section.rows.append(
        _row(
            f"CRL: CertificateAuthority.crl_der rebuild, {entries:,} in DB",
            rebuilt,
            empty,
            "empty CRL",
        )
    )
    section.notes.append(
        f"CRL of {entries:,} entries: {size / 1e6:.1f} MB DER (served {len(der) / 1e6:.1f} MB)"
    )


def run(budget: Budget) -> Section:
    section = Section(
        title="Built-in CA: issuance, revocation check, CRL (SQLite, in process)", headers=HEADERS
    )
    try:
        with tempfile.TemporaryDirectory(prefix="propusk-bench-ca-") as tmp:
            path = Path(tmp)
            url = f"sqlite+aiosqlite:///{path / 'propusk.db'}"
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
    except Exception as exc:  # a benchmark failure must not hide the other tables
        section.notes.append(f"ERROR the benchmark failed: {type(exc).__name__}: {exc}")
    return section
