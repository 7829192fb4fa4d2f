"""``propusk ca`` (the server's CA, on the server's database), ``propusk csr`` (a key and a
CSR made locally, nothing sent), and ``propusk cert`` (requests, decisions, download and
revocation over the HTTP API, as the account ``propusk login`` stored)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from .account import server_option
from .context import CliContext, console, fail, pass_cli, run_with_services
from .remote import account_client, call, org_path
from .server import _check_keyring_opens, _cli_origin, _require_schema

if TYPE_CHECKING:
    from propusk.services.ca import CaView
    from propusk.wiring import Services

__all__ = ["ca", "cert", "csr"]

REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
    "aACompromise",
)


IN_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _show(view: CaView) -> None:
    console.print(f"kid:         {view.kid}")
    console.print(f"subject:     {view.subject}")
    console.print(f"key:         {view.key_type} ({view.source})")
    console.print(f"valid:       {view.not_before.isoformat()} .. {view.not_after.isoformat()}")
    console.print(f"sha256:      {view.fingerprint}")
    if view.chain_length:
        console.print(f"chain:       {view.chain_length} issuer certificate(s) above it")


def _ca_call(cli: CliContext, work: Any) -> Any:
    from propusk.core.errors import PropuskError

    settings = cli.settings
    _require_schema(settings)
    _check_keyring_opens(settings)  # never seal the CA key with a master key not this one
    try:
        return run_with_services(settings, work)
    except PropuskError as exc:
        fail(exc.message)


@click.group()
def ca() -> None:
    """The built-in certificate authority (run on the server, like `propusk keys`)."""


@ca.command("init")
@click.option("--key-type", type=click.Choice(["ec", "rsa"]), default=None,
              help="ec = ECDSA P-256, rsa = RSA-3072 (default: settings.ca_key_type).")  # fmt: skip
@click.option("--days", type=click.IntRange(1, 36500), default=None,
              help="Validity in days (default: settings.ca_validity_days, 10 years).")  # fmt: skip
@click.option("--subject", default=None, help="e.g. /O=Example/CN=Example Client CA")
@click.option(
    "--replace", is_flag=True, help="Retire the current CA (its certificates stop working)."
)
@pass_cli
def ca_init(
    cli: CliContext, key_type: str | None, days: int | None, subject: str | None, replace: bool
) -> None:
    """Create a self-signed CA; its key goes into the keyring, sealed with the master key."""

    async def work(services: Services) -> CaView:
        return await services.ca.init(
            _cli_origin(), key_type=key_type, days=days, subject=subject, replace=replace
        )

    _show(_ca_call(cli, work))


@ca.command("import")
@click.option("--cert", "cert_file", required=True, type=IN_FILE,
              help="PEM: the CA certificate, then the certificates above it.")  # fmt: skip
@click.option("--key", "key_file", required=True, type=IN_FILE,
              help="PEM private key of that CA (PKCS#8 or traditional).")  # fmt: skip
@click.option(
    "--password-env", default=None, help="Environment variable holding the key's password."
)
@click.option(
    "--replace", is_flag=True, help="Retire the current CA (its certificates stop working)."
)
@pass_cli
def ca_import(
    cli: CliContext, cert_file: Path, key_file: Path, password_env: str | None, replace: bool
) -> None:
    """Use an existing CA, typically an intermediate under the provider's own root."""
    password = None
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            fail(f"{password_env} is not set")
        password = value.encode()
    certificate, key = cert_file.read_bytes(), key_file.read_bytes()

    async def work(services: Services) -> CaView:
        return await services.ca.import_(
            certificate, key, _cli_origin(), password=password, replace=replace
        )

    _show(_ca_call(cli, work))


@ca.command("show")
@click.option("--pem", is_flag=True, help="Print the CA certificate (and chain) as PEM.")
@pass_cli
def ca_show(cli: CliContext, pem: bool) -> None:
    """Show the active CA."""

    async def work(services: Services) -> CaView:
        return await services.ca.show()

    view = _ca_call(cli, work)
    if pem:
        click.echo(view.certificate_pem, nl=False)
    else:
        _show(view)


@click.command("csr")
@click.option("--subject", required=True, help='e.g. "/C=RU/O=Partner/CN=gateway"')
@click.option("--key-type", type=click.Choice(["rsa", "ec", "ed25519"]), default="rsa",
              show_default=True, help="rsa = RSA-2048, ec = ECDSA P-256.")  # fmt: skip
@click.option("--key-out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="New file for the private key (PEM, mode 0600).")  # fmt: skip
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="New file for the CSR (PEM).")  # fmt: skip
def csr(subject: str, key_type: str, key_out: Path, out: Path) -> None:
    """Make a private key and a CSR locally (as `openssl req -new -nodes` would)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    from propusk.core.csr import CsrError, parse_subject

    try:
        name = parse_subject(subject)
    except CsrError as exc:
        fail(exc.message)
    for path in (key_out, out):
        if path.exists() or path.is_symlink():
            fail(f"{path} already exists: not overwritten")
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if key_type == "rsa":
        key = rsa.generate_private_key(65537, 2048)
    elif key_type == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    algorithm = None if key_type == "ed25519" else hashes.SHA256()
    request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, algorithm)
    fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    out.write_bytes(request.public_bytes(serialization.Encoding.PEM))
    click.echo(f"key: {key_out} (mode 0600), CSR: {out}", err=True)


@click.group()
def cert() -> None:
    """Client certificates: request, approve or reject, fetch, list, revoke."""


@cert.command("request")
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option(
    "--csr", "csr_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--app", "apps", multiple=True, help="An app the certificate may act on (repeat).")
@click.option("--all-apps", is_flag=True, help="Every app the organization has now.")
@click.option("--method", "methods", multiple=True, required=True, help="A method (repeat).")
def cert_request(
    server: str, org: str, csr_file: Path, apps: tuple[str, ...], all_apps: bool,
    methods: tuple[str, ...],
) -> None:  # fmt: skip
    """Submit a CSR; prints the request ID (an operator approves it)."""
    body: dict[str, Any] = {"csrPem": csr_file.read_text(), "methods": list(methods)}
    if all_apps:
        body["allApps"] = True
    else:
        body["appIds"] = list(apps)
    with account_client(server.rstrip("/")) as http:
        answer = call(http, "POST", org_path(org, "certificate-requests"), body)
    click.echo(answer["id"])


@cert.command("approve")
@server_option
@click.argument("request_id")
@click.option("--subject", default=None, help="Override the subject, e.g. /O=Partner/CN=gw")
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Validity in days.")
def cert_approve(server: str, request_id: str, subject: str | None, days: int | None) -> None:
    """Approve a request (a server admin, or an owner of a self-service org); prints the
    new certificate's serial."""
    body: dict[str, Any] = {}
    if subject:
        body["subject"] = subject
    if days:
        body["days"] = days
    with account_client(server.rstrip("/")) as http:
        answer = call(http, "POST", f"/v1/ca/requests/{quote(request_id, safe='')}/approve", body)
    click.echo(answer["serial"])


@cert.command("reject")
@server_option
@click.argument("request_id")
@click.option("--reason", required=True)
def cert_reject(server: str, request_id: str, reason: str) -> None:
    """Reject a request with a reason the requester sees."""
    with account_client(server.rstrip("/")) as http:
        call(
            http, "POST", f"/v1/ca/requests/{quote(request_id, safe='')}/reject", {"reason": reason}
        )
    click.echo("rejected", err=True)


@cert.command("fetch")
@server_option
@click.option("--org", required=True)
@click.option("--serial", required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the certificate (PEM).")  # fmt: skip
@click.option("--ca-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the CA chain (PEM).")  # fmt: skip
@click.option("--bundle", is_flag=True, help="Write the certificate followed by the chain.")
def cert_fetch(
    server: str, org: str, serial: str, out: Path, ca_out: Path | None, bundle: bool
) -> None:
    """Download an issued certificate (and the CA chain)."""
    with account_client(server.rstrip("/")) as http:
        answer = call(http, "GET", org_path(org, "certificates", serial))
    out.write_text(answer["certificatePem"] + (answer["chainPem"] if bundle else ""))
    if ca_out is not None:
        ca_out.write_text(answer["chainPem"])
    click.echo(f"{answer['serial']} {answer['status']} until {answer['notAfter']}", err=True)


@cert.command("list")
@server_option
@click.option("--org", required=True)
@click.option("--status", type=click.Choice(["active", "revoked", "expired"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def cert_list(server: str, org: str, status: str | None, as_json: bool) -> None:
    """List an organization's certificates, newest first."""
    query = f"?status={status}" if status else ""
    with account_client(server.rstrip("/")) as http:
        items = call(http, "GET", org_path(org, "certificates") + query)["items"]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        click.echo(f"{item['serial']}  {item['status']:8}  {item['notAfter']}  {item['subject']}")


@cert.command("revoke")
@server_option
@click.option("--org", required=True)
@click.option("--serial", required=True)
@click.option("--reason", type=click.Choice(REASONS), default="unspecified", show_default=True)
def cert_revoke(server: str, org: str, serial: str, reason: str) -> None:
    """Revoke a certificate for good (RFC 5280 reason)."""
    with account_client(server.rstrip("/")) as http:
        call(http, "POST", org_path(org, "certificates", serial, "revoke"), {"reason": reason})
    click.echo(f"{serial} revoked ({reason})", err=True)
