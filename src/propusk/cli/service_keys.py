"""``propusk service-key``: get a token with a service key, and manage an organization's keys.

``token`` needs only the key (no account). The management commands act as the account that
``propusk login`` stored for ``--server``, as ``whoami`` does; only an organization's owners
may create, rotate or delete its keys.

Private keys are secrets shown once: they go to a new file with mode 0600 (never over an
existing one), and to stdout only with ``--print-private-key``.
"""

from __future__ import annotations

import ssl
import sys
from pathlib import Path
from typing import Any

import click
import httpx

from propusk.client.service_keys import (
    MAX_KEY_TEXT,
    ExchangeError,
    ServiceKeyAuth,
    load_service_private_key,
)
from propusk.client.tls import client_ssl_context

from .account import server_option
from .context import fail, file_option
from .key_commands import KeyCommands, Secret, write_secret
from .listing import when
from .remote import TIMEOUT

__all__ = ["service_key"]


@click.group("service-key")
def service_key() -> None:
    """Service keys: exchange one for a token; create, list, rotate and delete them."""


# -- token ---------------------------------------------------------------------------------


@service_key.command()
@server_option
@click.option("--key-id", required=True, envvar="PROPUSK_KEY_ID", help="The key ID.")
@click.option(
    "--private-key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    required=True,
    help="The private key: PEM, or the console's Base64 DER text; '-' reads stdin.",
)
@file_option(
    "--cert",
    "tls_cert",
    exists=True,
    help="Exchange over mutual TLS with this client certificate (PEM): with"
    " certificate_bound_tokens on, the token then works only with it (docs/mtls.md).",
)
@file_option("--key", "tls_key", exists=True, help="The private key of --cert (PEM).")
@file_option(
    "--cacert",
    exists=True,
    help="CA certificate(s) (PEM) to verify the server with, instead of the system's.",
)
def token(
    server: str,
    key_id: str,
    key_file: str,
    tls_cert: str | None,
    tls_key: str | None,
    cacert: str | None,
) -> None:
    """Exchange a service key for a Public-Token and print it."""
    server = server.rstrip("/")
    verify = _tls(tls_cert, tls_key, cacert)
    try:
        key = load_service_private_key(_read_key(key_file))
    except ValueError as exc:
        fail(f"{'stdin' if key_file == '-' else key_file}: {exc}")
    auth = ServiceKeyAuth(server, key_id, key)
    try:
        with httpx.Client(timeout=TIMEOUT, verify=verify) as http:
            grant = auth.get_token(http)
    except ExchangeError as exc:
        hint = ""
        if exc.status == 400 and exc.message == "Range timestamp not valid":
            hint = f" (check this computer's clock; server time {exc.server_time})"
        fail(f"the exchange was refused: {exc.message}{hint} (HTTP {exc.status})")
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}")
    click.echo(grant.jwe)


def _tls(cert: str | None, key: str | None, cacert: str | None) -> ssl.SSLContext | bool:
    """httpx's ``verify``: a client-certificate context, a private CA, or the default."""
    if (cert is None) != (key is None):
        fail("--cert and --key go together")
    try:
        if cert is not None and key is not None:
            return client_ssl_context(cert, key, cacert)
        if cacert is not None:
            return ssl.create_default_context(cafile=cacert)
    except (OSError, ssl.SSLError) as exc:
        fail(f"cannot use the TLS files: {exc}")
    return True


def _read_key(key_file: str) -> bytes:
    # One byte over the loader's limit is enough for it to refuse a huge input.
    if key_file == "-":
        return sys.stdin.buffer.read(MAX_KEY_TEXT + 1)
    try:
        with open(key_file, "rb") as handle:
            return handle.read(MAX_KEY_TEXT + 1)
    except OSError as exc:
        fail(f"cannot read {key_file}: {exc.strerror}")


# -- management, as the stored account -----------------------------------------------------


def _hand_over(answer: dict[str, Any], fd: int | None, out: Path | None, print_key: bool) -> None:
    click.echo(answer["keyId"])
    pem = answer.get("privateKeyPem")
    if not isinstance(pem, str):
        fail("the server did not return a private key")
    write_secret(fd, out, pem, "private key")
    if print_key:
        click.echo(pem, nl=False)


_keys = KeyCommands(
    service_key,
    "service-keys",
    Secret(
        out_help="Write the new private key (PEM) to this new file, mode 0600.",
        print_names=("--print-private-key", "print_key"),
        print_help="Print the new private key (PEM) on stdout.",
        missing="the private key is shown only once: give --out FILE to save it "
        "(or --print-private-key to print it)",
        hand_over=_hand_over,
    ),
)
_keys.create("Create a key; print its ID and save the private key, which is shown only once.")
_keys.list(
    "List an organization's keys.",
    "no service keys",
    ("Name", "Key ID", "Status", "Methods", "Apps", "Modified", "Last used"),
    ("Name", "Status", "Methods", "Apps"),
    lambda item: (
        item["name"],
        item["keyId"],
        item["status"],
        "\n".join(item["methods"]),
        "\n".join(item["apps"]) or "-",
        when(item["updatedAt"]),
        when(item["lastUsedAt"]),
    ),
)
_keys.replace(
    "rotate",
    "Replace a key's pair under the same key ID; save the new private key.",
    "Seconds during which the old private key still signs exchanges.",
    "the old private key",
    "; tokens issued before the rotation no longer work",
)
_keys.remove("delete", "Delete a key; its tokens stop working.", "DELETE", "service key", "deleted")
