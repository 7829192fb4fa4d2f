"""Certificate signing requests from partners: parse strictly, verify, and say clearly what
is wrong. Also the ``/C=RU/O=…/CN=…`` subject syntax that ``openssl req -subj`` uses.

Pure: no clock, no randomness. Everything refused raises :class:`CsrError` (a
:class:`~propusk.core.errors.InvalidRequest`), whose message is safe to show the partner.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from propusk.core.errors import InvalidRequest

__all__ = [
    "MAX_CSR_BYTES",
    "CsrError",
    "ValidCsr",
    "format_subject",
    "parse_csr_der",
    "parse_csr_pem",
    "parse_subject",
]

MAX_CSR_BYTES = 16384
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192  # bigger keys only make every handshake slower (a cheap DoS)
MAX_RDNS = 16
CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
# The subject attributes a client certificate may carry, with RFC 5280 upper bounds.
SUBJECT_LIMITS: dict[x509.ObjectIdentifier, tuple[str, int]] = {
    NameOID.COUNTRY_NAME: ("C", 2),
    NameOID.STATE_OR_PROVINCE_NAME: ("ST", 128),
    NameOID.LOCALITY_NAME: ("L", 128),
    NameOID.ORGANIZATION_NAME: ("O", 64),
    NameOID.ORGANIZATIONAL_UNIT_NAME: ("OU", 64),
    NameOID.COMMON_NAME: ("CN", 64),
    NameOID.EMAIL_ADDRESS: ("emailAddress", 255),
    NameOID.SERIAL_NUMBER: ("serialNumber", 64),
    NameOID.STREET_ADDRESS: ("street", 128),
    NameOID.POSTAL_CODE: ("postalCode", 40),
    NameOID.GIVEN_NAME: ("GN", 64),
    NameOID.SURNAME: ("SN", 64),
    NameOID.TITLE: ("title", 64),
    NameOID.DOMAIN_COMPONENT: ("DC", 63),
}
_BY_SHORT = {short.lower(): oid for oid, (short, _) in SUBJECT_LIMITS.items()}
_BY_SHORT.update({"email": NameOID.EMAIL_ADDRESS, "g": NameOID.GIVEN_NAME, "s": NameOID.SURNAME})
# Requested extensions are never copied into the certificate (the CA decides every one);
# these are tolerated in a CSR because common tools add them, anything else is refused.
TOLERATED_EXTENSIONS = {
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER,
}
EXTENSION_REQUEST = x509.ObjectIdentifier("1.2.840.113549.1.9.14")
SIGNATURE_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_PEM = re.compile(
    rb"\A\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n"
    rb"(?P<body>[A-Za-z0-9+/=\r\n]+?)"
    rb"-----END (NEW )?CERTIFICATE REQUEST-----\s*\Z"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class CsrError(InvalidRequest):
    code = "invalid_csr"
    message = "The certificate request is not acceptable"


@dataclass(frozen=True)
class ValidCsr:
    """A CSR whose own signature verified and whose key and subject passed every check."""

    csr: x509.CertificateSigningRequest
    public_key: PublicKey
    key_type: str  # "RSA-2048", "EC-P-256", "Ed25519", ...
    subject: x509.Name

    @property
    def pem(self) -> str:
        return self.csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def parse_csr_pem(text: str | bytes) -> ValidCsr:
    """Exactly one ``CERTIFICATE REQUEST`` PEM block (whitespace around it only)."""
    raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
    if len(raw) > MAX_CSR_BYTES:
        raise CsrError(f"the CSR is larger than {MAX_CSR_BYTES} bytes")
    if raw.count(b"-----BEGIN") != 1:
        if raw.count(b"-----BEGIN") > 1:
            raise CsrError("send exactly one CSR (one PEM block)")
        raise CsrError("the CSR must be PEM text starting with -----BEGIN CERTIFICATE REQUEST-----")
    match = _PEM.match(raw)
    if match is None:
        raise CsrError("the CSR must be one PEM block of type CERTIFICATE REQUEST")
    try:
        der = base64.b64decode(re.sub(rb"\s", b"", match["body"]), validate=True)
    except (binascii.Error, ValueError):
        raise CsrError("the CSR's PEM body is not valid Base64") from None
    return parse_csr_der(der)


def parse_csr_der(der: bytes) -> ValidCsr:
    """A DER CSR (as in an ``application/pkcs10`` body), checked the same way."""
    if len(der) > MAX_CSR_BYTES:
        raise CsrError(f"the CSR is larger than {MAX_CSR_BYTES} bytes")
    try:
        csr = x509.load_der_x509_csr(der)
        canonical = csr.public_bytes(serialization.Encoding.DER)
    except ValueError:
        raise CsrError("the CSR is not a valid PKCS#10 structure") from None
    if canonical != der:
        raise CsrError("the CSR is not in canonical DER (trailing or re-encoded data)")
    key, key_type = _checked_key(csr)
    _check_signature(csr)
    _check_attributes(csr)
    subject = checked_subject(_subject_of(csr))
    return ValidCsr(csr=csr, public_key=key, key_type=key_type, subject=subject)


def _subject_of(csr: x509.CertificateSigningRequest) -> x509.Name:
    # cryptography only warns about a CN or C beyond its RFC 5280 bound; here it is refused.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            subject = csr.subject
        except ValueError:
            raise CsrError("the CSR's subject is malformed") from None
    if caught:
        raise CsrError(f"the subject is not acceptable: {caught[0].message}")
    return subject


def _checked_key(csr: x509.CertificateSigningRequest) -> tuple[PublicKey, str]:
    try:
        key = csr.public_key()
    except (ValueError, TypeError, NotImplementedError):
        raise CsrError("the CSR's public key is of an unsupported type") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrError(f"RSA keys must have at least {MIN_RSA_BITS} bits, not {key.key_size}")
        if key.key_size > MAX_RSA_BITS:
            raise CsrError(f"RSA keys may have at most {MAX_RSA_BITS} bits")
        if key.public_numbers().e != 65537:
            raise CsrError("RSA keys must use the public exponent 65537")
        return key, f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = CURVES.get(key.curve.name)
        if curve is None:
            raise CsrError(f"EC keys must be on P-256 or P-384, not {key.curve.name}")
        return key, f"EC-{curve}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key, "Ed25519"
    raise CsrError("the key must be RSA (2048+ bits), EC P-256/P-384 or Ed25519")


def _check_signature(csr: x509.CertificateSigningRequest) -> None:
    try:
        algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        raise CsrError("the CSR is signed with an unsupported algorithm") from None
    ed = isinstance(csr.public_key(), ed25519.Ed25519PublicKey)
    if not (ed and algorithm is None) and not isinstance(algorithm, SIGNATURE_HASHES):
        name = algorithm.name if algorithm else "none"
        raise CsrError(f"the CSR must be signed with SHA-256/384/512, not {name}")
    if not csr.is_signature_valid:
        raise CsrError("the CSR's signature does not verify (it was not made with its key)")


def _check_attributes(csr: x509.CertificateSigningRequest) -> None:
    for attribute in csr.attributes:
        if attribute.oid != EXTENSION_REQUEST:
            name = getattr(attribute.oid, "_name", None) or attribute.oid.dotted_string
            raise CsrError(f"CSR attributes are not accepted ({name})")
    try:
        extensions = csr.extensions
    except (ValueError, x509.DuplicateExtension):
        raise CsrError("the CSR's requested extensions are malformed") from None
    for extension in extensions:
        if extension.oid not in TOLERATED_EXTENSIONS:
            name = getattr(extension.oid, "_name", None) or extension.oid.dotted_string
            raise CsrError(f"the CSR requests an extension that is not accepted ({name})")
        value = extension.value
        if isinstance(value, x509.BasicConstraints) and value.ca:
            raise CsrError("a client certificate cannot be a CA (basicConstraints CA:TRUE)")


def checked_subject(name: x509.Name) -> x509.Name:
    """The subject if every attribute is known, within its length, and free of control
    characters; raise CsrError naming the first that is not."""
    if not name.rdns:
        raise CsrError("the subject is empty; give at least CN or O")
    if len(name.rdns) > MAX_RDNS:
        raise CsrError(f"the subject has more than {MAX_RDNS} parts")
    for attribute in name:
        limit = SUBJECT_LIMITS.get(attribute.oid)
        if limit is None:
            oid_name = getattr(attribute.oid, "_name", None) or attribute.oid.dotted_string
            raise CsrError(f"subject attribute {oid_name} is not accepted")
        short, longest = limit
        value = attribute.value
        if not isinstance(value, str):
            raise CsrError(f"subject attribute {short} must be text")
        if not value or len(value) > longest:
            raise CsrError(f"subject attribute {short} must be 1 to {longest} characters")
        if _CONTROL.search(value):
            raise CsrError(f"subject attribute {short} contains control characters")
        if short == "C" and not re.fullmatch(r"[A-Z]{2}", value):
            raise CsrError("subject attribute C must be two capital letters (ISO 3166)")
    return name


def parse_subject(text: str) -> x509.Name:
    """``/C=RU/O=Example/CN=gateway`` (``openssl req -subj`` syntax, ``\\/`` escapes a slash,
    ``+`` is not special here) into a checked Name."""
    if not text.startswith("/"):
        raise CsrError("the subject must look like /C=RU/O=Example/CN=name")
    parts = re.split(r"(?<!\\)/", text[1:])
    attributes = []
    for part in parts:
        if not part:
            continue
        key, sep, value = part.partition("=")
        oid = _BY_SHORT.get(key.strip().lower())
        if not sep or oid is None:
            raise CsrError(f"unknown subject attribute {key.strip()[:32]!r}")
        try:
            attributes.append(x509.NameAttribute(oid, value.replace("\\/", "/")))
        except ValueError as exc:  # e.g. a country code that is not two characters
            raise CsrError(f"subject attribute {key.strip()}: {exc}") from None
    return checked_subject(x509.Name(attributes))


def format_subject(name: x509.Name) -> str:
    """The inverse of :func:`parse_subject`, for display and the API."""
    out = []
    for attribute in name:
        short = SUBJECT_LIMITS.get(attribute.oid, (attribute.oid.dotted_string, 0))[0]
        value = attribute.value if isinstance(attribute.value, str) else "?"
        out.append(f"/{short}={value.replace('/', chr(92) + '/')}")
    return "".join(out)
