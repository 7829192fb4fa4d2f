"""CSR validation: what ``openssl req`` makes passes; the fuzz table is refused with a
clear message (CsrError, a 400 ``invalid_csr`` at the edge)."""

from __future__ import annotations

import base64
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from propusk.core.csr import CsrError, format_subject, parse_csr_der, parse_csr_pem, parse_subject
from tests.integration.servers import need

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def build(
    key: Key,
    name: x509.Name | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
    attributes: list[tuple[x509.ObjectIdentifier, bytes]] | None = None,
) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner")]) if name is None else name
    )
    for ext, critical in extensions or []:
        builder = builder.add_extension(ext, critical=critical)
    for oid, value in attributes or []:
        builder = builder.add_attribute(oid, value)
    if algorithm is None and not isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = hashes.SHA256()
    csr = builder.sign(key, algorithm)  # type: ignore[arg-type]
    return csr.public_bytes(serialization.Encoding.PEM)


def pem_of(der: bytes) -> bytes:
    body = base64.encodebytes(der)
    return b"-----BEGIN CERTIFICATE REQUEST-----\n" + body + b"-----END CERTIFICATE REQUEST-----\n"


def der_of(pem: bytes) -> bytes:
    return x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)


_RSA = rsa.generate_private_key(65537, 2048)


def _bad_signature() -> bytes:
    der = bytearray(der_of(build(_RSA)))
    der[-5] ^= 0x01  # inside the signature value
    return pem_of(bytes(der))


def _rsa1024() -> bytes:
    return build(rsa.generate_private_key(65537, 1024))  # noqa: S505 - refused on purpose


def _secp256k1() -> bytes:
    return build(ec.generate_private_key(ec.SECP256K1()))


def _p521() -> bytes:
    return build(ec.generate_private_key(ec.SECP521R1()))


def _oversized_subject() -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns, then builds it as asked
        name = x509.NameAttribute(NameOID.COMMON_NAME, "x" * 65, _validate=False)
    return build(_RSA, x509.Name([name]))


def _oversized_organization() -> bytes:
    return build(_RSA, x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "o" * 65)]))


def _too_many_parts() -> bytes:
    parts = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"u{i}") for i in range(17)]
    return build(_RSA, x509.Name(parts))


def _unknown_subject_attribute() -> bytes:
    oid = x509.ObjectIdentifier("1.2.3.4.5")
    return build(_RSA, x509.Name([x509.NameAttribute(oid, "x")]))


def _control_characters() -> bytes:
    return build(_RSA, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a\nb")]))


def _empty_subject() -> bytes:
    return build(_RSA, x509.Name([]))


def _ca_request() -> bytes:
    return build(_RSA, extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)])


def _foreign_extension() -> bytes:
    return build(_RSA, extensions=[(x509.OCSPNoCheck(), False)])


def _challenge_password() -> bytes:
    return build(_RSA, attributes=[(x509.oid.AttributeOID.CHALLENGE_PASSWORD, b"secret")])


def _sha1() -> bytes:
    # cryptography will not sign with SHA-1 any more; openssl still does.
    done = subprocess.run(
        [
            need("openssl", "openssl"),
            "req",
            "-new",
            "-nodes",
            "-batch",
            "-sha1",
            "-subj",
            "/CN=x",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "/dev/null",
        ],
        capture_output=True,
        check=True,
    )
    return done.stdout


def _two_blocks() -> bytes:
    return build(_RSA) + build(_RSA)


def _private_key_block() -> bytes:
    return _RSA.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _der_in_pem_field() -> bytes:
    return der_of(build(_RSA))


def _bare_base64() -> bytes:
    return base64.b64encode(der_of(build(_RSA)))


def _trailing_der() -> bytes:
    return pem_of(der_of(build(_RSA)) + b"\x00\x00")


def _bad_base64() -> bytes:
    return build(_RSA).replace(b"MII", b"M*I", 1)


def _text_around() -> bytes:
    return b"here is my CSR:\n" + build(_RSA)


def _huge() -> bytes:
    return pem_of(b"\x30" * 20000)


FUZZ: dict[str, tuple[Callable[[], bytes], str]] = {
    "bad signature": (_bad_signature, "signature does not verify"),
    "RSA 1024": (_rsa1024, "at least 2048 bits"),
    "secp256k1": (_secp256k1, "P-256 or P-384"),
    "P-521": (_p521, "P-256 or P-384"),
    "oversized CN": (_oversized_subject, "subject is not acceptable"),
    "oversized O": (_oversized_organization, "O must be 1 to 64"),
    "too many subject parts": (_too_many_parts, "more than 16 parts"),
    "unknown subject attribute": (_unknown_subject_attribute, "is not accepted"),
    "control characters": (_control_characters, "control characters"),
    "empty subject": (_empty_subject, "subject is empty"),
    "asks to be a CA": (_ca_request, "cannot be a CA"),
    "unaccepted extension": (_foreign_extension, "extension that is not accepted"),
    "challengePassword": (_challenge_password, "attributes are not accepted"),
    "SHA-1 signature": (_sha1, "SHA-256/384/512"),
    "two PEM blocks": (_two_blocks, "exactly one CSR"),
    "a private key": (_private_key_block, "one PEM block of type CERTIFICATE REQUEST"),
    "DER in a PEM field": (_der_in_pem_field, "must be PEM"),
    "bare Base64": (_bare_base64, "must be PEM"),
    "trailing data": (_trailing_der, "not a valid PKCS#10"),
    "bad Base64": (_bad_base64, "PEM"),
    "text around the block": (_text_around, "one PEM block"),
    "garbage PEM": (lambda: pem_of(b"not a csr at all"), "not a valid PKCS#10"),
    "too large": (_huge, "larger than"),
    "empty": (lambda: b"", "must be PEM"),
}


@pytest.mark.parametrize("case", FUZZ, ids=list(FUZZ))
def test_fuzz_table(case: str) -> None:
    make, message = FUZZ[case]
    with pytest.raises(CsrError, match=message) as info:
        parse_csr_pem(make())
    assert info.value.status == 400 and info.value.code == "invalid_csr"


@pytest.mark.parametrize(
    ("newkey", "key_type"),
    [
        (["-newkey", "rsa:2048"], "RSA-2048"),
        (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "EC-P-256"),
        (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], "EC-P-384"),
        (["-newkey", "ed25519"], "Ed25519"),
    ],
)
def test_openssl_req_output_is_accepted(newkey: list[str], key_type: str, tmp_path: Path) -> None:
    """The partner's exact command from the spec (with each accepted key type)."""
    subject = "/C=RU/ST=Moscow/L=Moscow/O=Partner LLC/emailAddress=ops@partner.example"
    done = subprocess.run(
        [
            need("openssl", "openssl"),
            "req",
            "-new",
            "-nodes",
            "-batch",
            "-subj",
            subject,
            *newkey,
            "-keyout",
            "private.key",
            "-out",
            "cert_request.csr",
        ],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    raw = (tmp_path / "cert_request.csr").read_bytes()
    valid = parse_csr_pem(raw.decode())
    assert valid.key_type == key_type
    assert format_subject(valid.subject) == subject
    assert parse_csr_der(der_of(raw)).subject == valid.subject


def test_accepted_extensions_in_request() -> None:
    """Tools add SAN and CA:FALSE; tolerated (and never copied into the certificate)."""
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.SubjectAlternativeName([x509.DNSName("partner.example")]), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
    ]
    assert parse_csr_pem(build(_RSA, extensions=extensions)).key_type == "RSA-2048"


@pytest.mark.parametrize(
    "text",
    ["C=RU/CN=x", "/C=RUS/CN=x", "/C=ru", "/XX=1", "/CN", "/CN=" + "y" * 65, "/"],
)
def test_parse_subject_refuses(text: str) -> None:
    with pytest.raises(CsrError):
        parse_subject(text)


def test_parse_subject_round_trip() -> None:
    name = parse_subject(r"/C=RU/O=A\/B/CN=gw/emailAddress=a@b.example")
    assert name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "A/B"
    assert format_subject(name) == r"/C=RU/O=A\/B/CN=gw/emailAddress=a@b.example"
