"""The certificate authority's pure core: make or load a CA, issue client certificates,
build CRLs, and check a presented client certificate.

Nothing here reads the clock or makes random numbers: ``now``, serial numbers and private
keys are parameters, so every output is reproducible in tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from propusk.core.cnf import x5t_s256
from propusk.core.csr import ValidCsr
from propusk.core.errors import InvalidRequest

__all__ = [
    "REASONS",
    "CaKey",
    "CaMaterial",
    "CertificateRefused",
    "RevokedEntry",
    "build_crl",
    "check_client_certificate",
    "create_ca",
    "issue_client_certificate",
    "load_ca",
    "request_uri",
    "serial_hex",
    "thumbprint",
]

CaKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
MIN_SERIAL_BITS = 64
MAX_SERIAL = (1 << 159) - 1  # RFC 5280: at most 20 octets, positive
# RFC 5280 §5.3.1 reason codes a certificate may be revoked with here. certificateHold is
# left out on purpose: revocation is final; removeFromCRL only exists in delta CRLs.
REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aACompromise": x509.ReasonFlags.aa_compromise,
}


class CertificateRefused(Exception):
    """A presented client certificate failed a check; the reason is for logs only."""


@dataclass(frozen=True)
class CaMaterial:
    """The CA certificate, its private key, and the certificates above it (for an
    intermediate under the provider's own root), nearest first."""

    certificate: x509.Certificate
    private_key: CaKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def chain_pem(self) -> str:
        """The CA certificate followed by its chain, PEM."""
        return "".join(
            c.public_bytes(serialization.Encoding.PEM).decode("ascii")
            for c in (self.certificate, *self.chain)
        )


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str  # a key of REASONS


def _hash_for(key: CaKey) -> hashes.SHA256 | hashes.SHA384 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _check_ca_key(key: object) -> CaKey:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise InvalidRequest("an RSA CA key must have at least 2048 bits")
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in ("secp256r1", "secp384r1"):
            raise InvalidRequest("an EC CA key must be on P-256 or P-384")
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise InvalidRequest("the CA key must be RSA, EC P-256/P-384 or Ed25519")


def _ski(
    public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey,
) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(public)


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    """A keyUsage with only the named bits: a CA signs certificates and CRLs, a client
    certificate only signs (the TLS handshake); every other bit is off."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def create_ca(
    key: CaKey, subject: x509.Name, *, serial: int, now: datetime, days: int = 3650
) -> CaMaterial:
    """A self-signed CA certificate: basicConstraints CA:TRUE pathlen 0 (critical),
    keyUsage keyCertSign + cRLSign (critical), SKI = AKI."""
    key = _check_ca_key(key)
    _check_serial(serial)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .add_extension(_ski(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
            critical=False,
        )
    )
    return CaMaterial(builder.sign(key, _hash_for(key)), key)


def load_ca(
    certificate_pem: bytes, key_pem: bytes, *, now: datetime, password: bytes | None = None
) -> CaMaterial:
    """An imported CA: the first certificate in ``certificate_pem`` is the CA, the rest its
    chain. The key must match it, and it must be a CA allowed to sign certificates."""
    try:
        certificates = x509.load_pem_x509_certificates(certificate_pem)
    except ValueError:
        raise InvalidRequest("the CA certificate file holds no valid PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=password)
    except (ValueError, TypeError):
        raise InvalidRequest(
            "the CA key is not a valid (unencrypted or unlocked) PEM key"
        ) from None
    key = _check_ca_key(key)
    certificate, chain = certificates[0], tuple(certificates[1:])
    if certificate.public_key() != key.public_key():
        raise InvalidRequest("the CA key does not belong to the CA certificate")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise InvalidRequest("the certificate has no basicConstraints: it is not a CA") from None
    if not constraints.ca:
        raise InvalidRequest("the certificate is not a CA (basicConstraints CA:FALSE)")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.key_cert_sign and usage.crl_sign):
            raise InvalidRequest("the CA's keyUsage must allow keyCertSign and cRLSign")
    except x509.ExtensionNotFound:
        pass  # RFC 5280 allows a CA without keyUsage; then every use is allowed
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        raise InvalidRequest("the CA certificate is not valid now")
    for child, parent in zip((certificate, *chain), chain, strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise InvalidRequest(
                "the chain after the CA certificate is not its issuer chain"
            ) from None
    return CaMaterial(certificate, key, chain)


def _check_serial(serial: int) -> None:
    if not (1 << (MIN_SERIAL_BITS - 1)) <= serial <= MAX_SERIAL:
        raise ValueError("a serial must be positive, 64 to 159 bits")


def request_uri(org_id: str, request_id: str) -> str:
    """The SAN URI that ties a certificate to its organization and request."""
    return f"urn:propusk:org:{org_id}:request:{request_id}"


def issue_client_certificate(
    ca: CaMaterial,
    csr: ValidCsr,
    *,
    serial: int,
    now: datetime,
    days: int,
    org_id: str,
    request_id: str,
    subject: x509.Name | None = None,
) -> x509.Certificate:
    """An X.509 v3 TLS client certificate for a verified CSR. The CSR's requested
    extensions are ignored; the CA sets every extension itself. The end of validity is
    clipped to the CA's own."""
    _check_serial(serial)
    issuer = ca.certificate
    not_after = min(now + timedelta(days=days), issuer.not_valid_after_utc)
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject if subject is not None else csr.subject)
        .issuer_name(issuer.subject)
        .public_key(csr.public_key)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(digital_signature=True),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_ski(csr.public_key), critical=False)
        .add_extension(aki, critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(request_uri(org_id, request_id))]
            ),
            critical=False,
        )
    )
    return builder.sign(ca.private_key, _hash_for(ca.private_key))


def build_crl(
    ca: CaMaterial,
    revoked: Iterable[RevokedEntry],
    *,
    now: datetime,
    next_update: datetime,
    number: int,
) -> x509.CertificateRevocationList:
    """A v2 CRL signed by the CA: CRL number, AKI, nextUpdate, and a reasonCode on each
    entry except ``unspecified`` (RFC 5280 §5.3.1: that one SHOULD be absent)."""
    try:
        ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key())
    entries = []
    for entry in revoked:
        item = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        flag = REASONS[entry.reason]
        if flag is not x509.ReasonFlags.unspecified:
            item = item.add_extension(x509.CRLReason(flag), critical=False)
        entries.append(item.build())
    # The entries go to the constructor: add_revoked_certificate copies the list on every
    # call, which makes a CRL of 100k entries take quadratic time.
    builder = (
        x509.CertificateRevocationListBuilder(revoked_certificates=entries)
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(aki, critical=False)
    )
    return builder.sign(ca.private_key, _hash_for(ca.private_key))


def serial_hex(serial: int) -> str:
    """How serials appear in the API, the database and Principal.subject: lower-case hex."""
    return format(serial, "x")


def thumbprint(certificate: x509.Certificate) -> str:
    """RFC 8705 ``x5t#S256``: base64url (no padding) of SHA-256 over the DER."""
    return x5t_s256(certificate.public_bytes(serialization.Encoding.DER))


def check_client_certificate(
    ca_certificate: x509.Certificate, certificate: x509.Certificate, *, now: datetime
) -> None:
    """Raise CertificateRefused unless ``certificate`` was issued by this CA (signature and
    issuer name), is valid at ``now``, is not a CA itself, and allows clientAuth."""
    if certificate.issuer != ca_certificate.subject:
        raise CertificateRefused("issuer is not the Propusk CA")
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateRefused("not signed by the Propusk CA") from None
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        raise CertificateRefused("outside its validity period")
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise CertificateRefused("missing extendedKeyUsage or basicConstraints") from None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise CertificateRefused("extendedKeyUsage does not allow clientAuth")
    if constraints.ca:
        raise CertificateRefused("a CA certificate is not a client certificate")
