"""The server's CRL refresher over a real SQLite file (its own connections, as in
``propusk serve``): after a revocation the stored CRL is rebuilt before anyone fetches it."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from propusk.core.csr import parse_csr_pem, parse_subject
from propusk.core.principals import Principal
from propusk.services.audit import Origin
from propusk.services.scopes import KeyScope
from propusk.storage import migrate
from propusk.storage.models import CaCertificate
from propusk.wiring import build_services
from tests.conftest import make_settings
from tests.support import Mailbox


async def test_refresher_rebuilds_after_revocation(tmp_path: Path, mailbox: Mailbox) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ca.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    settings = make_settings(tmp_path, mailbox.port, database_url=url)
    services = build_services(settings, master_key=secrets.token_bytes(32))
    try:
        origin = Origin()
        await services.ca.init(origin)
        admin_id, _ = await services.accounts.create_admin("crl@example.com", "p" * 12, origin)
        admin = Principal(subject=admin_id, method="bearer", roles=frozenset({"user", "admin"}))
        org = await services.orgs.create(admin_id, "Partner", "company", origin)
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(parse_subject("/CN=gw"))
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        scope = KeyScope(None, True, ["reviews.read"])
        request = await services.certificates.submit(
            admin, org.id, parse_csr_pem(csr), scope, origin
        )
        cert = await services.certificates.approve(admin, request.id, origin)
        await services.ca.crl_der()  # a CRL without it is stored
        await services.certificates.revoke(admin, org.id, cert.serial, "keyCompromise", origin)
        task = asyncio.create_task(services.ca.keep_crl_fresh(interval=0.01))
        try:
            for _ in range(1000):  # a bound on the wait, not a timing assertion
                async with services.db.read() as session:
                    row = await session.scalar(select(CaCertificate))
                assert row is not None
                if row.crl_revocations == row.revocations:
                    break
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
        assert row is not None and row.crl_der is not None and row.crl_number == 2
        crl = x509.load_der_x509_crl(row.crl_der)
        assert crl.get_revoked_certificate_by_serial_number(int(cert.serial, 16)) is not None
    finally:
        await services.close()
