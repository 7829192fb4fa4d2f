"""Body signatures of the QIWI-style partner API (spec section 3): ``X-Digital-Sign`` is the
Base64 of a signature over the exact body bytes, ``X-Digital-Sign-Alg`` names the algorithm
in Java's spelling (``SHA1withRSA``), which is what partners' OpenSSL commands produce.

Pure: keys and bytes in, booleans out. The algorithm table is an allowlist; a name that is
not in it is refused, and each name works only with its key type. ``MD5withRSA`` and
``SHA1withRSA`` are broken hashes kept for real partners: :data:`LEGACY` marks them so the
signing-key service can demand an explicit opt-in.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.utils import CryptographyDeprecationWarning

from propusk.core.errors import InvalidRequest
from propusk.core.key_types import PrivateKey
from propusk.core.key_types import PublicKey as PartnerPublicKey
from propusk.core.rsa_keys import MAX_PEM_BYTES, MAX_RSA_BITS, MIN_RSA_BITS

__all__ = [
    "ALGORITHMS",
    "LEGACY",
    "Algorithm",
    "PartnerPublicKey",
    "PrivateKey",
    "algorithms_for",
    "check_algorithms",
    "key_type",
    "load_public_der",
    "load_public_pem",
    "public_der",
    "public_pem",
    "sign",
    "verify",
]

Family = Literal["rsa", "rsa-pss", "ecdsa", "ed25519"]


@dataclass(frozen=True)
class Algorithm:
    name: str
    family: Family
    hash: type[hashes.HashAlgorithm] | None  # None: Ed25519 hashes internally
    legacy: bool = False


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("MD5withRSA", "rsa", hashes.MD5, legacy=True),
        Algorithm("SHA1withRSA", "rsa", hashes.SHA1, legacy=True),
        Algorithm("SHA256withRSA", "rsa", hashes.SHA256),
        Algorithm("SHA512withRSA", "rsa", hashes.SHA512),
        Algorithm("SHA256withRSA/PSS", "rsa-pss", hashes.SHA256),
        Algorithm("SHA512withRSA/PSS", "rsa-pss", hashes.SHA512),
        Algorithm("SHA256withECDSA", "ecdsa", hashes.SHA256),
        Algorithm("SHA384withECDSA", "ecdsa", hashes.SHA384),
        Algorithm("Ed25519", "ed25519", None),
    )
}
LEGACY = frozenset(name for name, a in ALGORITHMS.items() if a.legacy)
_CURVES = {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}
_ACCEPTED = "RSA (2048 bits or more), ECDSA P-256 or P-384, or Ed25519"


def key_type(key: PartnerPublicKey) -> str:
    """``rsa``, ``ec-p256``, ``ec-p384`` or ``ed25519``."""
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _CURVES[key.curve.name]
    return "ed25519"


def _family_fits(family: Family, key: PartnerPublicKey) -> bool:
    if family in ("rsa", "rsa-pss"):
        return isinstance(key, rsa.RSAPublicKey)
    if family == "ecdsa":
        return isinstance(key, ec.EllipticCurvePublicKey)
    return isinstance(key, ed25519.Ed25519PublicKey)


def algorithms_for(key: PartnerPublicKey) -> frozenset[str]:
    """Every algorithm name that works with ``key`` (legacy ones included)."""
    return frozenset(n for n, a in ALGORITHMS.items() if _family_fits(a.family, key))


def check_algorithms(key: PartnerPublicKey, names: list[str], *, allow_legacy: bool) -> list[str]:
    """The sorted, de-duplicated names, or InvalidRequest saying which one is wrong."""
    if not names:
        raise InvalidRequest("algorithms must name at least one algorithm")
    unique = sorted(set(names))
    unknown = [n for n in unique if n not in ALGORITHMS]
    if unknown:
        raise InvalidRequest(
            f"unknown algorithm {unknown[0][:40]!r}; known: {', '.join(ALGORITHMS)}"
        )
    fitting = algorithms_for(key)
    wrong = [n for n in unique if n not in fitting]
    if wrong:
        raise InvalidRequest(
            f"{wrong[0]} does not work with this {key_type(key)} key;"
            f" it works with {', '.join(sorted(fitting))}"
        )
    legacy = [n for n in unique if n in LEGACY]
    if legacy and not allow_legacy:
        raise InvalidRequest(
            f"{', '.join(legacy)} use a broken hash; set allowLegacyAlgorithms to true to"
            " enable them for this key deliberately"
        )
    return unique


def _checked(key: object) -> PartnerPublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise InvalidRequest(
                f"RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits;"
                f" this one has {key.key_size}"
            )
        exponent = key.public_numbers().e
        if exponent < 3 or exponent % 2 == 0:
            raise InvalidRequest("the RSA public exponent is not acceptable")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            raise InvalidRequest(
                f"the elliptic curve {key.curve.name} is not accepted; use P-256 or P-384"
            )
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    # By name: cryptography 51 deprecates the dsa module, and touching dsa.DSAPublicKey
    # warns (an error under the test suite's warnings policy) just to refuse such a key.
    if type(key).__name__ == "DSAPublicKey":
        raise InvalidRequest(f"DSA keys are not accepted; use {_ACCEPTED}")
    raise InvalidRequest(f"this kind of key is not accepted; use {_ACCEPTED}")


def load_public_pem(text: str) -> PartnerPublicKey:
    """A partner's public key from PEM (SubjectPublicKeyInfo ``PUBLIC KEY`` or PKCS#1
    ``RSA PUBLIC KEY``), checked: weak, unknown and private keys are refused by name."""
    data = text.strip().encode("ascii", "replace")
    if len(data) > MAX_PEM_BYTES:
        raise InvalidRequest("publicKeyPem is too large")
    if b"PRIVATE KEY-----" in data:
        # The most common mistake, and a dangerous one: say so rather than "not a key".
        raise InvalidRequest(
            "publicKeyPem holds a PRIVATE key: keep it secret and send only the public half"
            " (openssl pkey -in private.key -pubout)"
        )
    if data.count(b"-----BEGIN") > 1:
        # load_pem_public_key reads the first block and drops the rest silently: a pasted
        # pair of keys would register whichever came first without a word.
        raise InvalidRequest("publicKeyPem must hold exactly one PEM block")
    try:
        with warnings.catch_warnings():
            # cryptography 51 deprecates DSA and warns while loading such a key, which is
            # refused by name just below anyway.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidRequest(
            "publicKeyPem is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
        ) from exc
    return _checked(key)


def load_public_der(der: bytes) -> PartnerPublicKey:
    """A stored key (DER SubjectPublicKeyInfo), checked as on upload."""
    return _checked(serialization.load_der_public_key(der))


def public_der(key: PartnerPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_pem(key: PartnerPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _raw_to_der(signature: bytes, key: ec.EllipticCurvePublicKey) -> bytes | None:
    """IEEE P1363 ``r || s`` (what JOSE and some Java providers emit) as DER, or None."""
    size = (key.curve.key_size + 7) // 8
    if len(signature) != 2 * size:
        return None
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    return utils.encode_dss_signature(r, s)


def verify(alg: str, key: PartnerPublicKey, body: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``alg`` by ``key`` over ``body``. False (never an
    exception) for an unknown name, a name that does not fit the key, or a bad signature."""
    algorithm = ALGORITHMS.get(alg)
    if algorithm is None or not _family_fits(algorithm.family, key):
        return False
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, body)
            return True
        assert algorithm.hash is not None
        if isinstance(key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if algorithm.family == "rsa"
                # Any salt length: OpenSSL signs with the longest, Java with the digest's.
                else padding.PSS(padding.MGF1(algorithm.hash()), padding.PSS.AUTO)
            )
            key.verify(signature, body, pad, algorithm.hash())
            return True
        try:
            key.verify(signature, body, ec.ECDSA(algorithm.hash()))
            return True
        except InvalidSignature:
            raw = _raw_to_der(signature, key)
            if raw is None:
                return False
            key.verify(raw, body, ec.ECDSA(algorithm.hash()))
            return True
    except (InvalidSignature, ValueError):
        return False


def sign(alg: str, key: PrivateKey, body: bytes) -> bytes:
    """``alg`` signature of ``body`` (DER for ECDSA, digest-length salt for PSS): what
    ``openssl dgst -<hash> -sign`` or Java's ``Signature`` would produce."""
    algorithm = ALGORITHMS.get(alg)
    if algorithm is None:
        raise ValueError(f"unknown algorithm {alg!r}")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        if algorithm.family != "ed25519":
            raise ValueError(f"{alg} does not work with an Ed25519 key")
        return key.sign(body)
    if algorithm.hash is None or not _family_fits(algorithm.family, key.public_key()):
        raise ValueError(f"{alg} does not work with this key")
    if isinstance(key, rsa.RSAPrivateKey):
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if algorithm.family == "rsa"
            else padding.PSS(padding.MGF1(algorithm.hash()), padding.PSS.DIGEST_LENGTH)
        )
        return key.sign(body, pad, algorithm.hash())
    return key.sign(body, ec.ECDSA(algorithm.hash()))
