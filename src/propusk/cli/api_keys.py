"""``propusk api-key``: create, list, reroll and revoke an organization's managed API keys.

The commands act as the account that ``propusk login`` stored for ``--server``, as
``propusk service-key`` does; an organization's owners and admins manage its keys, and
every member may list them.

A key (``propusk_<keyId>_<secret>``) is shown once: it goes to a new file with mode 0600
(never over an existing one), and to stdout only with ``--print-key``. Listings show its
prefix and last four characters, never more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
from rich.table import Table
from rich.text import Text

from propusk.core.apikeys import parse_api_key

from .account import server_option
from .context import fail
from .service_keys import _account, _call, _table_console, _when

__all__ = ["api_key"]

MAX_GRACE_SECONDS = 7 * 86400


@click.group("api-key")
def api_key() -> None:
    """Managed API keys (X-API-Key): create, list, reroll and revoke them."""


def _keys_path(org: str, key_id: str | None = None, action: str | None = None) -> str:
    # Quoted as one segment each: an id with '/' or '..' must not reach another route.
    path = f"/v1/orgs/{quote(org, safe='')}/api-keys"
    if key_id is not None:
        path += f"/{quote(key_id, safe='')}"
    if action is not None:
        path += f"/{action}"
    return path


@contextmanager
def _key_file(out: Path | None, print_key: bool) -> Iterator[int | None]:
    """Reserve ``out`` (new, mode 0600) before the key exists, so that a key shown once
    always has somewhere to go; remove the empty file if no key was made."""
    if out is None and not print_key:
        fail("the key is shown only once: give --out FILE to save it (or --print-key to print it)")
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
    os.fchmod(fd, 0o600)  # the umask may have taken bits away, never added: make it exact
    written = False
    try:
        yield fd
        written = True
    finally:
        os.close(fd)
        if not written:
            out.unlink(missing_ok=True)


def _hand_over(answer: dict[str, Any], fd: int | None, out: Path | None, print_key: bool) -> None:
    key = answer.get("key")
    if not isinstance(key, str) or parse_api_key(key) is None:
        fail("the server did not return an API key")
    click.echo(answer["keyId"])
    if fd is not None:
        os.write(fd, f"{key}\n".encode("ascii"))
        os.fsync(fd)
        click.echo(f"API key written to {out} (mode 0600); it is not kept anywhere else", err=True)
    if print_key:
        click.echo(key)


def _with_key_options(command: Any) -> Any:
    command = click.option(
        "--print-key", is_flag=True, help="Print the new key on stdout (after its key ID)."
    )(command)
    return click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the new key to this new file, mode 0600.",
    )(command)


def _expiry(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--expires: {value!r} is not an ISO 8601 time (e.g. 2030-01-31T00:00:00Z)")
    if moment.tzinfo is None:
        fail("--expires needs a time zone (e.g. 2030-01-31T00:00:00Z or …+03:00)")
    return moment.isoformat()


@api_key.command()
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option("--name", required=True, help="A name for the key (1-255 characters).")
@click.option("--app", "apps", multiple=True, help="An app the key may act on (repeat).")
@click.option("--all-apps", is_flag=True, help="Every app the organization has now.")
@click.option("--method", "methods", multiple=True, help="A method the key may call (repeat).")
@click.option("--expires", help="When the key stops working (ISO 8601 with a time zone).")
@_with_key_options
def create(
    server: str,
    org: str,
    name: str,
    apps: tuple[str, ...],
    all_apps: bool,
    methods: tuple[str, ...],
    expires: str | None,
    out: Path | None,
    print_key: bool,
) -> None:
    """Create a key; print its ID and save the key, which is shown only once."""
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
    expires_at = _expiry(expires)
    if expires_at is not None:
        body["expiresAt"] = expires_at
    with _key_file(out, print_key) as fd, _account(server) as http:
        answer = _call(http, "POST", _keys_path(org), body)
        _hand_over(answer, fd, out, print_key)


def _status(item: dict[str, Any], now: datetime) -> str:
    if item["status"] == "active" and item.get("expiresAt"):
        try:
            expires = datetime.fromisoformat(item["expiresAt"])
        except ValueError:
            return str(item["status"])
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires <= now:
            return "expired"
    return str(item["status"])


@api_key.command("list")
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
def list_keys(server: str, org: str, as_json: bool) -> None:
    """List an organization's keys (prefix and last four characters only)."""
    server = server.rstrip("/")
    with _account(server) as http:
        items = _call(http, "GET", _keys_path(org))["items"]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no API keys")
        return
    now = datetime.now(UTC)
    table = Table(box=None, pad_edge=False)
    columns = ("Name", "Key ID", "Key", "Methods", "Apps", "Expires", "Last used", "Status")
    for column in columns:
        table.add_column(column, no_wrap=column not in ("Name", "Methods", "Apps"))
    for item in items:
        # Text, not str: data is never read as rich markup.
        table.add_row(
            Text(item["name"]),
            Text(item["keyId"]),
            Text(f"{item['prefix']}_…{item['last4']}"),
            Text("\n".join(item["methods"])),
            Text("\n".join(item["apps"]) or "-"),
            Text(_when(item["expiresAt"]) if item["expiresAt"] else "never"),
            Text(_when(item["lastUsedAt"])),
            Text(_status(item, now)),
        )
    _table_console().print(table)


@api_key.command()
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option("--key-id", required=True, help="The key ID.")
@click.option(
    "--grace",
    type=click.IntRange(0, MAX_GRACE_SECONDS),
    default=0,
    show_default=True,
    help="Seconds during which the old key still works.",
)
@_with_key_options
def reroll(
    server: str, org: str, key_id: str, grace: int, out: Path | None, print_key: bool
) -> None:
    """Replace a key's secret under the same key ID; save the new key."""
    server = server.rstrip("/")
    with _key_file(out, print_key) as fd, _account(server) as http:
        answer = _call(http, "POST", _keys_path(org, key_id, "reroll"), {"graceSeconds": grace})
        _hand_over(answer, fd, out, print_key)
    old = f"works for {grace} more seconds" if grace else "no longer works"
    click.echo(f"the old key {old}", err=True)


@api_key.command()
@server_option
@click.option("--org", required=True, help="The organization's ID.")
@click.option("--key-id", required=True, help="The key ID.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def revoke(server: str, org: str, key_id: str, yes: bool) -> None:
    """Revoke a key for good: requests with it are refused at once."""
    server = server.rstrip("/")
    with _account(server) as http:
        key = _call(http, "GET", _keys_path(org, key_id))
        if not yes:
            try:
                confirmed = click.confirm(
                    f"Revoke API key {key['name']!r} ({key['keyId']})? "
                    "Clients using it will be refused",
                    default=False,
                    err=True,
                )
            except click.Abort:
                confirmed = False
            if not confirmed:
                fail("not revoked (confirm, or pass --yes)")
        _call(http, "POST", _keys_path(org, key_id, "revoke"))
    click.echo(f"revoked API key {key['keyId']}")
