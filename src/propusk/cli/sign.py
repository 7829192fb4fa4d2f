"""``propusk sign`` and ``propusk keygen``: a partner's tools for signed requests, offline.

``propusk sign`` prints the ``X-Digital-Sign`` headers for a body file, exactly what
``openssl dgst -sha256 -sign private.pem body.xml | base64 -w0`` gives (spec §3)::

    $ propusk sign --key private.pem --alg SHA256withRSA --login shop-1 body.xml
    X-Digital-Sign: kXj3…==
    X-Digital-Sign-Alg: SHA256withRSA
    X-Digital-Sign-Login: shop-1

The output is a curl header file: ``curl -H @headers.txt --data-binary @body.xml URL``.

``propusk keygen rsa|ec|ed25519 --out private.pem`` writes a new private key (PKCS#8 PEM,
mode 0600, never over an existing file) and prints the public key (SubjectPublicKeyInfo
PEM) to register, or writes it to ``--public-out``.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from propusk.core import digital_sign
from propusk.core.http_signatures import PrivateKey

__all__ = ["keygen", "sign"]

MAX_KEY_FILE = 64 * 1024
CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}


def fail(message: str) -> None:
    raise click.ClickException(message)


def _load_key(path: Path) -> PrivateKey:
    try:
        data = path.read_bytes()[: MAX_KEY_FILE + 1]
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE:
        fail(f"{path} is too large to be a private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise click.ClickException(
            f"{path} is not an unencrypted PEM private key (RSA, ECDSA or Ed25519)"
        ) from None
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise click.ClickException(f"{path}: only RSA, ECDSA and Ed25519 keys can sign")


def _read_body(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None


@click.command("sign")
@click.option("--key", "key_path", type=click.Path(path_type=Path), required=True)
@click.option(
    "--alg",
    type=click.Choice(sorted(digital_sign.ALGORITHMS)),
    default="SHA256withRSA",
    show_default=True,
    help="X-Digital-Sign-Alg (MD5withRSA and SHA1withRSA only for keys enabled for them).",
)
@click.option("--login", default=None, help="Add X-Digital-Sign-Login with this login.")
@click.option("--login-base64", is_flag=True, help="Send the login as Base64 of its UTF-8.")
@click.option("--key-id", default=None, help="Add X-Key-Id (the signing key's id).")
@click.argument("file")
def sign(
    key_path: Path,
    alg: str,
    login: str | None,
    login_base64: bool,
    key_id: str | None,
    file: str,
) -> None:
    """Print the X-Digital-Sign headers for the exact bytes of FILE (- for stdin)."""
    key = _load_key(key_path)
    body = _read_body(file)
    try:
        signature = digital_sign.sign(alg, key, body)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"X-Digital-Sign: {base64.b64encode(signature).decode()}")
    click.echo(f"X-Digital-Sign-Alg: {alg}")
    if login is not None:
        shown = base64.b64encode(login.encode()).decode() if login_base64 else login
        if not shown.isprintable():
            fail("the login must be printable")
        click.echo(f"X-Digital-Sign-Login: {shown}")
    if key_id is not None:
        click.echo(f"X-Key-Id: {key_id}")


def _generate(kind: str, bits: int, curve: str) -> PrivateKey:
    if kind == "rsa":
        if not 2048 <= bits <= 8192:
            fail("--bits must be between 2048 and 8192")
        return rsa.generate_private_key(65537, bits)
    if kind == "ec":
        return ec.generate_private_key(CURVES[curve]())
    return ed25519.Ed25519PrivateKey.generate()


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        # O_EXCL refuses an existing file and any symlink, dangling ones included.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise click.ClickException(f"{path} already exists: not overwritten") from None
    except OSError as exc:
        raise click.ClickException(f"cannot create {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away, never added: make it exact
        os.write(fd, data)
    finally:
        os.close(fd)


@click.command("keygen")
@click.argument("kind", type=click.Choice(["rsa", "ec", "ed25519"]))
@click.option("--bits", default=2048, show_default=True, help="RSA modulus size.")
@click.option("--curve", type=click.Choice(sorted(CURVES)), default="P-256", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Private key file.")
@click.option(
    "--public-out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the public key here instead of printing it.",
)
def keygen(kind: str, bits: int, curve: str, out: Path, public_out: Path | None) -> None:
    """Make a signing key pair: the private key to --out (0600), the public key to register."""
    key = _generate(kind, bits, curve)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public_out is not None and public_out.exists():
        fail(f"{public_out} already exists: not overwritten")
    _write_new(out, private_pem, 0o600)
    if public_out is not None:
        _write_new(public_out, public_pem, 0o644)
        click.echo(f"private key: {out}\npublic key: {public_out}", err=True)
    else:
        click.echo(public_pem.decode(), nl=False)
