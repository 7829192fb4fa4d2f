"""``propusk sign`` and ``propusk keygen`` against the real ``openssl`` binary: the headers
are what ``openssl dgst -sign`` gives and verify with ``openssl dgst -verify``; the keys
load in openssl, are private (0600) and never overwrite a file."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cli.support import invoke
from tests.integration.servers import need

pytestmark = pytest.mark.external

BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><request><request-type>pay</request-type>'
    b"<terminal-id>10001</terminal-id><amount>10.00</amount></request>\n"
)


@pytest.fixture(scope="module")
def openssl() -> str:
    return need("openssl", "openssl")


def headers_of(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines())


def ssl(openssl: str, *args: str | Path, data: bytes | None = None) -> bytes:
    done = subprocess.run(
        [openssl, *map(str, args)], input=data, capture_output=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


@pytest.mark.parametrize(
    ("alg", "digest"), [("SHA256withRSA", "sha256"), ("SHA1withRSA", "sha1"), ("MD5withRSA", "md5")]
)
def test_sign_equals_openssl_dgst_sign_and_verifies(
    openssl: str, tmp_path: Path, alg: str, digest: str
) -> None:
    """The partner instructions: `openssl genrsa 2048`, `openssl dgst -<hash> -sign`."""
    private = tmp_path / "private.key"
    ssl(openssl, "genrsa", "-out", private, "2048")
    public = tmp_path / "public.key"
    ssl(openssl, "rsa", "-in", private, "-pubout", "-out", public)
    body = tmp_path / "body.xml"
    body.write_bytes(BODY)
    result = invoke("sign", "--key", private, "--alg", alg, "--login", "shop-1", body)
    assert result.exit_code == 0, result.output
    headers = headers_of(result.output)
    assert headers["X-Digital-Sign-Alg"] == alg
    assert headers["X-Digital-Sign-Login"] == "shop-1"
    signature = base64.b64decode(headers["X-Digital-Sign"], validate=True)
    # RSASSA-PKCS1-v1_5 is deterministic: the very bytes openssl makes.
    assert signature == ssl(openssl, "dgst", f"-{digest}", "-sign", private, body)
    sig_file = tmp_path / "sig.bin"
    sig_file.write_bytes(signature)
    out = ssl(openssl, "dgst", f"-{digest}", "-verify", public, "-signature", sig_file, body)
    assert out.strip() == b"Verified OK"


@pytest.mark.parametrize(
    ("kind", "extra", "alg", "verify"),
    [
        ("rsa", ["--bits", "3072"], "SHA512withRSA", ["dgst", "-sha512"]),
        ("ec", ["--curve", "P-256"], "SHA256withECDSA", ["dgst", "-sha256"]),
        ("ec", ["--curve", "P-384"], "SHA384withECDSA", ["dgst", "-sha384"]),
        ("ed25519", [], "Ed25519", ["pkeyutl", "-rawin"]),
    ],
)
def test_keygen_keys_load_in_openssl_and_sign_verifies(
    openssl: str, tmp_path: Path, kind: str, extra: list[str], alg: str, verify: list[str]
) -> None:
    private, public = tmp_path / "private.pem", tmp_path / "public.pem"
    result = invoke("keygen", kind, *extra, "--out", private)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    public.write_text(result.output)
    # openssl reads the private key and derives the very public key that was printed.
    assert ssl(openssl, "pkey", "-in", private, "-pubout").decode() == result.output
    ssl(openssl, "pkey", "-pubin", "-in", public, "-noout")
    body = tmp_path / "body.xml"
    body.write_bytes(BODY)
    result = invoke("sign", "--key", private, "--alg", alg, "--key-id", "sk-1", body)
    assert result.exit_code == 0, result.output
    headers = headers_of(result.output)
    assert headers["X-Key-Id"] == "sk-1"
    sig_file = tmp_path / "sig.bin"
    sig_file.write_bytes(base64.b64decode(headers["X-Digital-Sign"]))
    args: list[str | Path]
    if verify[0] == "dgst":
        args = [*verify, "-verify", public, "-signature", sig_file, body]
    else:
        args = [*verify, "-verify", "-pubin", "-inkey", public, "-sigfile", sig_file, "-in", body]
    assert b"Verified" in ssl(openssl, *args)


def test_sign_reads_stdin_and_base64_login(openssl: str, tmp_path: Path) -> None:
    private = tmp_path / "private.pem"
    assert invoke("keygen", "rsa", "--out", private).exit_code == 0
    from_file = tmp_path / "body.xml"
    from_file.write_bytes(BODY)
    a = invoke("sign", "--key", private, "--login", "магазин", "--login-base64", from_file)
    b = invoke(
        "sign", "--key", private, "--login", "магазин", "--login-base64", "-", input=BODY.decode()
    )
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert headers_of(a.output) == headers_of(b.output)
    login = headers_of(a.output)["X-Digital-Sign-Login"]
    assert base64.b64decode(login).decode() == "магазин"


def test_keygen_refuses_to_overwrite_and_weak_sizes(tmp_path: Path) -> None:
    private = tmp_path / "private.pem"
    private.write_text("keep me")
    result = invoke("keygen", "ed25519", "--out", private)
    assert result.exit_code == 1 and "already exists" in result.output
    assert private.read_text() == "keep me"
    result = invoke("keygen", "rsa", "--bits", "1024", "--out", tmp_path / "weak.pem")
    assert result.exit_code == 1 and "between 2048 and 8192" in result.output
    assert not (tmp_path / "weak.pem").exists()
    pub = tmp_path / "pub.pem"
    result = invoke("keygen", "ec", "--out", tmp_path / "k.pem", "--public-out", pub)
    assert result.exit_code == 0, result.output
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")


@pytest.mark.parametrize(
    ("key_text", "alg", "message"),
    [
        ("not a key", "SHA256withRSA", "not an unencrypted PEM private key"),
        (None, "SHA256withECDSA", "does not work with this key"),
        (None, "Ed25519", "does not work"),
    ],
)
def test_sign_refusals(tmp_path: Path, key_text: str | None, alg: str, message: str) -> None:
    private = tmp_path / "private.pem"
    if key_text is None:
        assert invoke("keygen", "rsa", "--out", private).exit_code == 0
    else:
        private.write_text(key_text)
    body = tmp_path / "body.xml"
    body.write_bytes(BODY)
    result = invoke("sign", "--key", private, "--alg", alg, body)
    assert result.exit_code == 1
    assert message in result.output
    missing = invoke("sign", "--key", private, "--alg", alg, tmp_path / "nope.xml")
    assert missing.exit_code == 1
