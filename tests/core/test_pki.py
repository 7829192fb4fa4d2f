"""The CA core, checked by the real ``openssl`` binary: a CA it accepts, client certificates
that ``openssl verify`` chains to it, and CRLs that ``openssl crl -verify`` accepts and that
make ``openssl verify -crl_check`` refuse a revoked certificate."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from propusk.core.csr import ValidCsr, parse_csr_pem, parse_subject
from propusk.core.errors import InvalidRequest
from propusk.core.pki import (
    CaMaterial,
    CertificateRefused,
    RevokedEntry,
    build_crl,
    check_client_certificate,
    create_ca,
    issue_client_certificate,
    load_ca,
    serial_hex,
    thumbprint,
)
from tests.integration.servers import need

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
SERIAL = 0x1234_5678_9ABC_DEF0_1122
ORG = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
REQUEST = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
CA_NAME = parse_subject("/C=RU/O=Propusk Test/CN=Propusk Test CA")


def pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need("openssl", "openssl"), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def make_csr(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, subject: str) -> ValidCsr:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(parse_subject(subject))
        .sign(key, hashes.SHA256())
    )
    return parse_csr_pem(csr.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def ec_ca() -> CaMaterial:
    return create_ca(ec.generate_private_key(ec.SECP256R1()), CA_NAME, serial=SERIAL, now=NOW)


@pytest.fixture(scope="module")
def client_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def issue(ca: CaMaterial, key: rsa.RSAPrivateKey, serial: int = SERIAL + 1) -> x509.Certificate:
    return issue_client_certificate(
        ca,
        make_csr(key, "/C=RU/O=Partner/CN=gateway"),
        serial=serial,
        now=NOW,
        days=365,
        org_id=ORG,
        request_id=REQUEST,
    )


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_ca_shape_in_openssl(kind: str, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else None
    ca = create_ca(key or rsa.generate_private_key(65537, 3072), CA_NAME, serial=SERIAL, now=NOW)
    (tmp_path / "ca.pem").write_bytes(pem(ca.certificate))
    text = openssl("x509", "-in", "ca.pem", "-noout", "-text", cwd=tmp_path).stdout
    assert "CA:TRUE, pathlen:0" in text
    assert "X509v3 Basic Constraints: critical" in text
    assert "X509v3 Key Usage: critical" in text and "Certificate Sign, CRL Sign" in text
    assert "X509v3 Subject Key Identifier" in text
    assert ("ecdsa-with-SHA256" if kind == "ec" else "sha256WithRSAEncryption") in text
    assert "RSA Public-Key: (3072 bit)" in text or "Public-Key: (3072 bit)" in text or kind == "ec"
    assert ca.certificate.not_valid_after_utc - NOW == timedelta(days=3650)
    # A self-signed CA verifies against itself.
    ok = openssl("verify", "-CAfile", "ca.pem", "ca.pem", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr


def test_client_certificate_known_shape(
    ec_ca: CaMaterial, client_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    cert = issue(ec_ca, client_key)
    (tmp_path / "ca.pem").write_bytes(pem(ec_ca.certificate))
    (tmp_path / "cert.pem").write_bytes(pem(cert))
    verified = openssl(
        "verify", "-CAfile", "ca.pem", "-purpose", "sslclient", "cert.pem", cwd=tmp_path
    )
    assert verified.returncode == 0 and "cert.pem: OK" in verified.stdout, verified.stderr
    text = openssl("x509", "-in", "cert.pem", "-noout", "-text", cwd=tmp_path).stdout
    assert "Version: 3 (0x2)" in text
    assert "TLS Web Client Authentication" in text
    assert "X509v3 Key Usage: critical\n                Digital Signature\n" in text
    assert "X509v3 Basic Constraints: critical\n                CA:FALSE" in text
    assert "X509v3 Authority Key Identifier" in text and "X509v3 Subject Key Identifier" in text
    assert f"URI:urn:propusk:org:{ORG}:request:{REQUEST}" in text
    assert "Subject: C = RU, O = Partner, CN = gateway" in text
    assert (
        cert.serial_number == SERIAL + 1
        and serial_hex(cert.serial_number) == "123456789abcdef01123"
    )
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=365)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ec_ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    # The thumbprint is RFC 8705 x5t#S256: openssl's SHA-256 fingerprint, base64url.
    finger = openssl("x509", "-in", "cert.pem", "-noout", "-fingerprint", "-sha256", cwd=tmp_path)
    hex_digest = finger.stdout.strip().split("=", 1)[1].replace(":", "")
    import base64

    expected = base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).rstrip(b"=").decode()
    assert thumbprint(cert) == expected


def test_subject_override_and_validity_clip(
    ec_ca: CaMaterial, client_key: rsa.RSAPrivateKey
) -> None:
    override = parse_subject("/O=Provider-assigned/CN=partner-42")
    cert = issue_client_certificate(
        ec_ca,
        make_csr(client_key, "/CN=whatever"),
        serial=SERIAL + 2,
        now=NOW,
        days=100_000,
        org_id=ORG,
        request_id=REQUEST,
        subject=override,
    )
    assert cert.subject == override
    assert cert.not_valid_after_utc == ec_ca.certificate.not_valid_after_utc


@pytest.mark.parametrize("serial", [0, -1, 1, (1 << 63) - 1, 1 << 159])
def test_serial_bounds(ec_ca: CaMaterial, client_key: rsa.RSAPrivateKey, serial: int) -> None:
    with pytest.raises(ValueError, match="64 to 159 bits"):
        issue(ec_ca, client_key, serial)


def test_crl_verifies_and_revokes(
    ec_ca: CaMaterial, client_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    cert = issue(ec_ca, client_key, SERIAL + 3)
    other = issue(ec_ca, client_key, SERIAL + 4)
    entries = [
        RevokedEntry(SERIAL + 3, NOW, "keyCompromise"),
        RevokedEntry(SERIAL + 9, NOW, "unspecified"),
    ]
    crl = build_crl(ec_ca, entries, now=NOW, next_update=NOW + timedelta(days=1), number=7)
    for name, data in {
        "ca.pem": pem(ec_ca.certificate),
        "crl.pem": pem(crl),
        "cert.pem": pem(cert),
        "other.pem": pem(other),
    }.items():
        (tmp_path / name).write_bytes(data)
    checked = openssl("crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout", cwd=tmp_path)
    assert checked.returncode == 0 and "verify OK" in checked.stderr + checked.stdout
    text = openssl("crl", "-in", "crl.pem", "-noout", "-text", cwd=tmp_path).stdout
    assert "X509v3 CRL Number: \n                7" in text
    assert "Key Compromise" in text and "Next Update: Nov 25 06:00:00 2026 GMT" in text
    assert "X509v3 Authority Key Identifier" in text
    # unspecified carries no reasonCode extension (RFC 5280 5.3.1)
    assert text.count("X509v3 CRL Reason Code") == 1
    args = ("verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem")
    revoked = openssl(*args, "-attime", str(int(NOW.timestamp()) + 60), "cert.pem", cwd=tmp_path)
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr
    good = openssl(*args, "-attime", str(int(NOW.timestamp()) + 60), "other.pem", cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr


def test_import_checks(ec_ca: CaMaterial, client_key: rsa.RSAPrivateKey) -> None:
    key_pem = ec_ca.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    loaded = load_ca(pem(ec_ca.certificate), key_pem, now=NOW)
    assert loaded.certificate == ec_ca.certificate
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidRequest, match="does not belong"):
        load_ca(pem(ec_ca.certificate), other_key, now=NOW)
    leaf = issue(ec_ca, client_key, SERIAL + 5)
    leaf_key = client_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidRequest, match="not a CA"):
        load_ca(pem(leaf), leaf_key, now=NOW)
    with pytest.raises(InvalidRequest, match="not valid now"):
        load_ca(pem(ec_ca.certificate), key_pem, now=NOW + timedelta(days=4000))
    with pytest.raises(InvalidRequest):
        load_ca(b"garbage", key_pem, now=NOW)
    with pytest.raises(InvalidRequest):
        load_ca(pem(ec_ca.certificate), b"garbage", now=NOW)


def test_intermediate_under_own_root(client_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    """The recommended production setup, made with openssl exactly as the docs say."""
    script = """
set -e
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 7300 \\
  -subj "/O=Provider/CN=Provider Root" -keyout root.key -out root.pem \\
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \\
  -subj "/O=Provider/CN=Propusk Client CA" -keyout ca.key -out ca.csr
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\\nkeyUsage=critical,keyCertSign,cRLSign\\n\
subjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid\\n' > ca.ext
openssl x509 -req -in ca.csr -CA root.pem -CAkey root.key -CAcreateserial -days 3650 \\
  -extfile ca.ext -out ca.pem
cat ca.pem root.pem > ca-chain.pem
"""
    need("openssl", "openssl")
    done = subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    now = datetime.now(UTC)
    ca = load_ca(
        (tmp_path / "ca-chain.pem").read_bytes(), (tmp_path / "ca.key").read_bytes(), now=now
    )
    assert len(ca.chain) == 1
    cert = issue_client_certificate(
        ca,
        make_csr(client_key, "/CN=partner"),
        serial=SERIAL + 6,
        now=now - timedelta(minutes=1),
        days=30,
        org_id=ORG,
        request_id=REQUEST,
    )
    (tmp_path / "cert.pem").write_bytes(pem(cert))
    ok = openssl("verify", "-CAfile", "root.pem", "-untrusted", "ca.pem", "cert.pem", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ca.chain_pem.count("BEGIN CERTIFICATE") == 2


def test_check_client_certificate(ec_ca: CaMaterial, client_key: rsa.RSAPrivateKey) -> None:
    cert = issue(ec_ca, client_key, SERIAL + 7)
    check_client_certificate(ec_ca.certificate, cert, now=NOW + timedelta(days=1))
    refused = {
        "expired": (cert, NOW + timedelta(days=366)),
        "not yet valid": (cert, NOW - timedelta(seconds=1)),
        "self-signed CA": (ec_ca.certificate, NOW),
    }
    foreign = create_ca(
        ec.generate_private_key(ec.SECP256R1()), CA_NAME, serial=SERIAL, now=NOW
    )  # same name, other key: only the signature tells them apart
    refused["foreign CA"] = (issue(foreign, client_key), NOW)
    server_auth = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "srv")]))
        .issuer_name(ec_ca.certificate.subject)
        .public_key(client_key.public_key())
        .serial_number(SERIAL + 8)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ec_ca.private_key, hashes.SHA256())
    )
    refused["wrong EKU"] = (server_auth, NOW)
    for name, (candidate, at) in refused.items():
        with pytest.raises(CertificateRefused):
            check_client_certificate(ec_ca.certificate, candidate, now=at)
        assert name
