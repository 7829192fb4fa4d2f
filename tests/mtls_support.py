"""Certificates for mTLS tests, made with cryptography: CAs, client and server
certificates, and the encodings proxies forward them in."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """``<stem>.pem`` and ``<stem>.key`` in ``directory``."""
        cert, key = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert.write_text(self.pem)
        key.write_text(self.key_pem)
        return cert, key


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Propusk tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(common_name: str = "Test CA") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def issue(
    ca: Issued | None,
    common_name: str,
    *,
    usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
    days: tuple[int, int] = (-1, 30),
    dns: str | None = None,
) -> Issued:
    """A leaf certificate signed by ``ca`` (self-signed when ``ca`` is None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    issuer_name = ca.cert.subject if ca else _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=days[0]))
        .not_valid_after(now + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if dns is not None:  # a server certificate: its name, and 127.0.0.1
        names = [x509.DNSName(dns), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    signer = ca.key if ca else key
    return Issued(key, builder.sign(signer, hashes.SHA256()))


def nginx_escaped(pem: str) -> str:
    """``$ssl_client_escaped_cert``: the PEM, URL-escaped."""
    return quote(pem, safe="")


def xfcc(pem: str, *, before: str = "") -> str:
    """An Envoy ``x-forwarded-client-cert`` value whose last element carries ``pem``."""
    element = (
        'By=spiffe://example.org/propusk;Hash=0123abcd;Subject="CN=client, O=Org; Unit";'
        f'Cert="{quote(pem, safe="")}";URI=spiffe://example.org/client'
    )
    return f"{before},{element}" if before else element
