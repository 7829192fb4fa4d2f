"""X-Digital-Sign algorithms: signatures made by the real openssl binary verify here, ours
verify with openssl, and every malformed key or signature is refused by name."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa, x25519
from cryptography.utils import CryptographyDeprecationWarning

from propusk.core import digital_sign
from propusk.core.errors import InvalidRequest
from tests.integration.servers import need

BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><request><request-type>pay</request-type>'
    b"<terminal-id>12345</terminal-id></request>\n"
)


def openssl(*args: str, cwd: Path) -> bytes:
    done = subprocess.run(
        [need("openssl", "openssl"), *args], cwd=cwd, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys made by openssl, as partners make them."""
    work = tmp_path_factory.mktemp("openssl-keys")
    openssl("genrsa", "-out", "rsa.key", "2048", cwd=work)
    openssl("rsa", "-in", "rsa.key", "-pubout", "-out", "rsa.pub", cwd=work)
    openssl("rsa", "-in", "rsa.key", "-RSAPublicKey_out", "-out", "rsa.pkcs1.pub", cwd=work)
    for name, curve in (("p256", "prime256v1"), ("p384", "secp384r1")):
        openssl("ecparam", "-name", curve, "-genkey", "-noout", "-out", f"{name}.key", cwd=work)
        openssl("ec", "-in", f"{name}.key", "-pubout", "-out", f"{name}.pub", cwd=work)
    openssl("genpkey", "-algorithm", "ed25519", "-out", "ed.key", cwd=work)
    openssl("pkey", "-in", "ed.key", "-pubout", "-out", "ed.pub", cwd=work)
    (work / "body.xml").write_bytes(BODY)
    return work


OPENSSL_SIGN = [
    ("MD5withRSA", "rsa", ["dgst", "-md5", "-sign", "rsa.key", "body.xml"]),
    ("SHA1withRSA", "rsa", ["dgst", "-sha1", "-sign", "rsa.key", "body.xml"]),
    ("SHA256withRSA", "rsa", ["dgst", "-sha256", "-sign", "rsa.key", "body.xml"]),
    ("SHA512withRSA", "rsa", ["dgst", "-sha512", "-sign", "rsa.key", "body.xml"]),
    (
        "SHA256withRSA/PSS",
        "rsa",
        ["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sign", "rsa.key", "body.xml"],
    ),
    (
        "SHA512withRSA/PSS",
        "rsa",
        [
            "dgst",
            "-sha512",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:64",
            "-sign",
            "rsa.key",
            "body.xml",
        ],
    ),
    ("SHA256withECDSA", "p256", ["dgst", "-sha256", "-sign", "p256.key", "body.xml"]),
    ("SHA384withECDSA", "p384", ["dgst", "-sha384", "-sign", "p384.key", "body.xml"]),
    ("SHA256withECDSA", "p384", ["dgst", "-sha256", "-sign", "p384.key", "body.xml"]),
    ("Ed25519", "ed", ["pkeyutl", "-sign", "-rawin", "-inkey", "ed.key", "-in", "body.xml"]),
]


@pytest.mark.parametrize(("alg", "name", "command"), OPENSSL_SIGN)
def test_openssl_signatures_verify(keys: Path, alg: str, name: str, command: list[str]) -> None:
    signature = openssl(*command, cwd=keys)
    key = digital_sign.load_public_pem((keys / f"{name}.pub").read_text())
    assert digital_sign.verify(alg, key, BODY, signature)
    assert not digital_sign.verify(alg, key, BODY + b" ", signature)  # one byte more
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not digital_sign.verify(alg, key, BODY, flipped)
    for other in digital_sign.algorithms_for(key) - {alg}:
        assert not digital_sign.verify(other, key, BODY, signature), other


def test_pkcs1_rsa_public_key_pem(keys: Path) -> None:
    pkcs1 = (keys / "rsa.pkcs1.pub").read_text()
    assert pkcs1.startswith("-----BEGIN RSA PUBLIC KEY-----")
    key = digital_sign.load_public_pem(pkcs1)
    signature = openssl("dgst", "-sha1", "-sign", "rsa.key", "body.xml", cwd=keys)
    assert digital_sign.verify("SHA1withRSA", key, BODY, signature)
    assert digital_sign.public_pem(key) == (keys / "rsa.pub").read_text()


@pytest.mark.parametrize(
    ("alg", "name", "dgst"),
    [
        ("SHA256withRSA", "rsa", ["-sha256"]),
        ("SHA1withRSA", "rsa", ["-sha1"]),
        ("SHA256withRSA/PSS", "rsa", ["-sha256", "-sigopt", "rsa_padding_mode:pss"]),
        ("SHA256withECDSA", "p256", ["-sha256"]),
    ],
)
def test_our_signatures_verify_with_openssl(
    keys: Path, alg: str, name: str, dgst: list[str]
) -> None:
    private = serialization.load_pem_private_key((keys / f"{name}.key").read_bytes(), None)
    assert isinstance(private, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    (keys / f"{name}-{len(dgst)}.sig").write_bytes(digital_sign.sign(alg, private, BODY))
    out = openssl(
        "dgst", *dgst, "-verify", f"{name}.pub", "-signature", f"{name}-{len(dgst)}.sig",
        "body.xml", cwd=keys,
    )  # fmt: skip
    assert out.strip() == b"Verified OK"


def test_ecdsa_raw_r_s_is_accepted() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    der = digital_sign.sign("SHA256withECDSA", private, BODY)
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert digital_sign.verify("SHA256withECDSA", private.public_key(), BODY, raw)
    assert not digital_sign.verify("SHA256withECDSA", private.public_key(), BODY + b"x", raw)


def _pem(key: object) -> str:
    assert hasattr(key, "public_bytes")
    data: bytes = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data.decode()


RSA_1024 = rsa.generate_private_key(65537, 1024)  # noqa: S505 - must be refused
with warnings.catch_warnings():
    # cryptography 51 deprecates DSA; the key exists only to be refused.
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    DSA_1024 = dsa.generate_private_key(1024)  # noqa: S505
BAD_KEYS: list[tuple[str, Callable[[], str], str]] = [
    ("rsa-1024", lambda: _pem(RSA_1024.public_key()), "2048 to 8192 bits; this one has 1024"),
    ("dsa", lambda: _pem(DSA_1024.public_key()), "DSA keys are not"),
    (
        "p521",
        lambda: _pem(ec.generate_private_key(ec.SECP521R1()).public_key()),
        "curve secp521r1 is not accepted",
    ),
    ("x25519", lambda: _pem(x25519.X25519PrivateKey.generate().public_key()), "not accepted"),
    (
        "private",
        lambda: RSA_1024.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode(),
        "PRIVATE key",
    ),
    (
        "pkcs8-private",
        lambda: (
            ed25519.Ed25519PrivateKey.generate()
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode()
        ),
        "PRIVATE key",
    ),
    ("garbage", lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a PEM"),
    ("empty", lambda: "", "not a PEM"),
    ("base64-der-no-armour", lambda: "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", "not a PEM"),
    ("huge", lambda: "A" * 20000, "too large"),
]


@pytest.mark.parametrize(("case", "make", "message"), BAD_KEYS, ids=[c[0] for c in BAD_KEYS])
def test_bad_keys_are_refused_by_name(case: str, make: Callable[[], str], message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        digital_sign.load_public_pem(make())
    assert message in caught.value.message


RSA = rsa.generate_private_key(65537, 2048).public_key()
ED = ed25519.Ed25519PrivateKey.generate().public_key()


@pytest.mark.parametrize(
    ("key", "names", "legacy", "message"),
    [
        (RSA, [], False, "at least one"),
        (RSA, ["SHA256withDSA"], False, "unknown algorithm"),
        (RSA, ["sha256withrsa"], False, "unknown algorithm"),  # names are exact
        (RSA, ["Ed25519"], False, "does not work with this rsa key"),
        (ED, ["SHA256withRSA"], False, "does not work with this ed25519 key"),
        (RSA, ["SHA1withRSA"], False, "allowLegacyAlgorithms"),
        (RSA, ["SHA256withRSA", "MD5withRSA"], False, "MD5withRSA use a broken hash"),
    ],
)
def test_bad_algorithm_lists(key: object, names: list[str], legacy: bool, message: str) -> None:
    assert isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey))
    with pytest.raises(InvalidRequest) as caught:
        digital_sign.check_algorithms(key, names, allow_legacy=legacy)
    assert message in caught.value.message


def test_legacy_with_opt_in_and_dedup() -> None:
    names = ["SHA1withRSA", "SHA256withRSA", "SHA1withRSA"]
    assert digital_sign.check_algorithms(RSA, names, allow_legacy=True) == [
        "SHA1withRSA",
        "SHA256withRSA",
    ]
    assert {"MD5withRSA", "SHA1withRSA"} == digital_sign.LEGACY


@pytest.mark.parametrize("signature", [b"", b"\x00", b"\x00" * 256, b"\x30\x02\x02\x00" * 8])
def test_garbage_signatures_are_false_not_errors(signature: bytes) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    for alg, key in (("SHA256withRSA", RSA), ("Ed25519", ED), ("SHA256withECDSA", p256)):
        assert digital_sign.verify(alg, key, BODY, signature) is False
    assert digital_sign.verify("NoSuchAlg", RSA, BODY, signature) is False
