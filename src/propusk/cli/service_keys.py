"""``propusk service-key``: get a token with a service key, and manage an organization's keys.

``token`` needs only the key (no account). The management commands act as the account that
``propusk login`` stored for ``--server``, as ``whoami`` does; only an organization's owners
may create, rotate or delete its keys.

Private keys are secrets shown once: they go to a new file with mode 0600 (never over an
existing one), and to stdout only with ``--print-private-key``.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from propusk.client.auth import AuthError, RefreshTokenAuth
from propusk.client.service_keys import (
    MAX_KEY_TEXT,
    ExchangeError,
    ServiceKeyAuth,
    load_service_private_key,
)
from propusk.client.tls import client_ssl_context

from .account import load_tokens, save_tokens, server_option
from .context import fail

__all__ = ["service_key"]

MAX_GRACE_SECONDS = 7 * 86400
TIMEOUT = 30.0


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
@click.option(
    "--cert",
    "tls_cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Exchange over mutual TLS with this client certificate (PEM): with"
    " certificate_bound_tokens on, the token then works only with it (docs/mtls.md).",
)
@click.option(
    "--key",
    "tls_key",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The private key of --cert (PEM).",
)
@click.option(
    "--cacert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
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


@contextmanager
def _account(server: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in with the tokens ``propusk login`` stored for ``server``."""
    tokens = load_tokens(server)
    if tokens is None:
        fail(f"not logged in to {server}: run `propusk login --server {server}`")
    auth = RefreshTokenAuth(server, tokens, on_tokens=lambda t: save_tokens(server, t))
    try:
        with httpx.Client(auth=auth, timeout=TIMEOUT, base_url=server) as http:
            yield http
    except AuthError as exc:
        fail(f"{exc} (log in again)")
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}")


def _keys_path(org: str, key_id: str | None = None, action: str | None = None) -> str:
    # Quoted as one segment each: an id with '/' or '..' must not reach another route.
    path = f"/v1/orgs/{quote(org, safe='')}/service-keys"
    if key_id is not None:
        path += f"/{quote(key_id, safe='')}"
    if action is not None:
        path += f"/{action}"
    return path


def _call(http: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = http.request(method, path, json=body)
    if response.status_code >= 400:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("message"), str):
            fail(f"{answer['message']} (HTTP {response.status_code})")
        fail(f"{method} {path} failed: HTTP {response.status_code}")
    if response.status_code == 204:
        return None
    try:
        return response.json()
    except ValueError:
        fail(f"{method} {path}: the server did not answer with JSON")


@contextmanager
def _private_key_file(out: Path | None, print_key: bool) -> Iterator[int | None]:
    """Reserve ``out`` (new, mode 0600) before the key exists, so that a key shown once
    always has somewhere to go; remove the empty file if the key was not made."""
    if out is None and not print_key:
        fail(
            "the private key is shown only once: give --out FILE to save it "
            "(or --print-private-key to print it)"
        )
    if out is None:
        yield None
        return
    try:
        # O_EXCL refuses an existing file and any symlink, dangling ones included.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{out} already exists: not overwritten (choose another --out)")
    except OSError as exc:
        fail(f"cannot create {out}: {exc.strerror}")
    os.fchmod(fd, 0o600)
    written = False
    try:
        yield fd
        written = True
    finally:
        os.close(fd)
        if not written:
            out.unlink(missing_ok=True)


def _hand_over(answer: dict[str, Any], fd: int | None, out: Path | None, print_key: bool) -> None:
    pem = answer.get("privateKeyPem")
    if not isinstance(pem, str):
        fail("the server did not return a private key")
    if fd is not None:
        os.write(fd, pem.encode("ascii"))
        os.fsync(fd)
        click.echo(
            f"private key written to {out} (mode 0600); it is not kept anywhere else", err=True
        )
    if print_key:
        click.echo(pem, nl=False)


private_key_options = [
    click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the new private key (PEM) to this new file, mode 0600.",
    ),
    click.option(
        "--print-private-key",
        "print_key",
        is_flag=True,
        help="Print the new private key (PEM) on stdout.",
    ),
]


def _with_private_key_options(command: Any) -> Any:
    for option in reversed(private_key_options):
        command = option(command)
    return command


@service_key.command()
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option("--name", required=True, help="A name for the key (1-255 characters).")
@click.option("--app", "apps", multiple=True, help="An app the key may act on (repeat).")
@click.option("--all-apps", is_flag=True, help="Every app the organization has now.")
@click.option("--method", "methods", multiple=True, help="A method the key may call (repeat).")
@_with_private_key_options
def create(
    server: str,
    org: str,
    name: str,
    apps: tuple[str, ...],
    all_apps: bool,
    methods: tuple[str, ...],
    out: Path | None,
    print_key: bool,
) -> None:
    """Create a key; print its ID and save the private key, which is shown only once."""
    server = server.rstrip("/")
    if bool(apps) == all_apps:
        fail("give either --app ID (one or more) or --all-apps")
    if not methods:
        fail("give at least one --method")
    body: dict[str, Any] = {"name": name, "methods": list(methods)}
    if all_apps:
        body["allApps"] = True
    else:
        body["appIds"] = list(apps)
    with _private_key_file(out, print_key) as fd, _account(server) as http:
        answer = _call(http, "POST", _keys_path(org), body)
        click.echo(answer["keyId"])
        _hand_over(answer, fd, out, print_key)


@service_key.command("list")
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
def list_keys(server: str, org: str, as_json: bool) -> None:
    """List an organization's keys."""
    server = server.rstrip("/")
    with _account(server) as http:
        items = _call(http, "GET", _keys_path(org))["items"]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no service keys")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("Name", "Key ID", "Status", "Methods", "Apps", "Modified", "Last used"):
        table.add_column(column, no_wrap=column in ("Key ID", "Modified", "Last used"))
    for item in items:
        # Text, not str: data is never read as rich markup.
        table.add_row(
            Text(item["name"]),
            Text(item["keyId"]),
            Text(item["status"]),
            Text("\n".join(item["methods"])),
            Text("\n".join(item["apps"]) or "-"),
            Text(_when(item["updatedAt"])),
            Text(_when(item["lastUsedAt"])),
        )
    _table_console().print(table)


def _table_console() -> Console:
    console = Console(highlight=False, markup=False, emoji=False)
    if not console.is_terminal:
        # Piped or captured: no terminal width to fit, and wrapped key IDs break scripts.
        console = Console(highlight=False, markup=False, emoji=False, width=240)
    return console


def _when(value: str | None) -> str:
    if not value:
        return "never"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@service_key.command()
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option("--key-id", required=True, help="The key ID.")
@click.option(
    "--grace",
    type=click.IntRange(0, MAX_GRACE_SECONDS),
    default=0,
    show_default=True,
    help="Seconds during which the old private key still signs exchanges.",
)
@_with_private_key_options
def rotate(
    server: str, org: str, key_id: str, grace: int, out: Path | None, print_key: bool
) -> None:
    """Replace a key's pair under the same key ID; save the new private key."""
    server = server.rstrip("/")
    with _private_key_file(out, print_key) as fd, _account(server) as http:
        answer = _call(http, "POST", _keys_path(org, key_id, "rotate"), {"graceSeconds": grace})
        click.echo(answer["keyId"])
        _hand_over(answer, fd, out, print_key)
    old = f"works for {grace} more seconds" if grace else "no longer works"
    click.echo(
        f"the old private key {old}; tokens issued before the rotation no longer work", err=True
    )


@service_key.command()
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option("--key-id", required=True, help="The key ID.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(server: str, org: str, key_id: str, yes: bool) -> None:
    """Delete a key; its tokens stop working."""
    server = server.rstrip("/")
    with _account(server) as http:
        key = _call(http, "GET", _keys_path(org, key_id))
        if not yes:
            try:
                confirmed = click.confirm(
                    f"Delete service key {key['name']!r} ({key['keyId']})? "
                    "Clients using it will be refused",
                    default=False,
                    err=True,
                )
            except click.Abort:
                confirmed = False
            if not confirmed:
                fail("not deleted (confirm, or pass --yes)")
        _call(http, "DELETE", _keys_path(org, key_id))
    click.echo(f"deleted service key {key['keyId']}")
