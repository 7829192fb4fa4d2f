"""The commands that manage an organization's keys (``propusk service-key``,
``propusk api-key``): create, list, replace the secret, remove.

:class:`KeyCommands` adds them to a kind's group; the kind says what differs: its path
under the organization, its texts, and how its secret (shown once) is handed over. They
act as the account that ``propusk login`` stored for ``--server``. A secret goes to a new
file with mode 0600 (never over an existing one) that is reserved before the secret
exists, and to stdout only when asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from .account import server_option
from .context import fail
from .listing import print_listing
from .remote import account_client, call, org_path

__all__ = ["MAX_GRACE_SECONDS", "KeyCommands", "Secret", "write_secret"]

F = TypeVar("F", bound=Callable[..., Any])
HandOver = Callable[[dict[str, Any], "int | None", "Path | None", bool], None]
Row = Callable[[dict[str, Any]], Sequence[str]]

MAX_GRACE_SECONDS = 7 * 86400

_org_option = click.option("--org", required=True, help="The organization's ID.")
_key_id_option = click.option("--key-id", required=True, help="The key ID.")
_new_key_options = [
    click.option("--name", required=True, help="A name for the key (1-255 characters)."),
    click.option("--app", "apps", multiple=True, help="An app the key may act on (repeat)."),
    click.option("--all-apps", is_flag=True, help="Every app the organization has now."),
    click.option("--method", "methods", multiple=True, help="A method the key may call (repeat)."),
]


def _stacked(command: F, decorators: Sequence[Callable[[Any], Any]]) -> F:
    """``command`` with ``decorators`` applied as if written above it, first on top."""
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@dataclass(frozen=True)
class Secret:
    """A kind's secret shown once: its options, and how it is handed over."""

    out_help: str  # --out FILE
    print_names: tuple[str, ...]  # the flag that prints it, and its parameter
    print_help: str
    missing: str  # the refusal when it would go nowhere
    hand_over: HandOver  # (answer, file descriptor or None, --out, print?) -> None

    def options(self) -> list[Callable[[Any], Any]]:
        return [
            click.option(
                "--out", type=click.Path(dir_okay=False, path_type=Path), help=self.out_help
            ),
            click.option(*self.print_names, is_flag=True, help=self.print_help),
        ]

    @contextmanager
    def reserved(self, out: Path | None, print_secret: bool) -> Iterator[int | None]:
        """Reserve ``out`` (new, mode 0600) before the secret exists, so that a secret shown
        once always has somewhere to go; remove the empty file if none was made."""
        if out is None and not print_secret:
            fail(self.missing)
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


def write_secret(fd: int | None, out: Path | None, text: str, what: str) -> None:
    """Write a secret into its reserved file (if any) and say so on stderr."""
    if fd is None:
        return
    os.write(fd, text.encode("ascii"))
    os.fsync(fd)
    click.echo(f"{what} written to {out} (mode 0600); it is not kept anywhere else", err=True)


def _new_scope(
    name: str, apps: tuple[str, ...], all_apps: bool, methods: tuple[str, ...]
) -> dict[str, Any]:
    if bool(apps) == all_apps:
        fail("give either --app ID (one or more) or --all-apps")
    if not methods:
        fail("give at least one --method")
    body: dict[str, Any] = {"name": name, "methods": list(methods)}
    if all_apps:
        body["allApps"] = True
    else:
        body["appIds"] = list(apps)
    return body


class KeyCommands:
    """Adds the management commands of one kind of key to ``group``."""

    def __init__(self, group: click.Group, path: str, secret: Secret) -> None:
        self._group = group
        self._path = path  # under /v1/orgs/<org>/
        self._secret = secret

    def _keys_path(self, org: str, *parts: str) -> str:
        return org_path(org, self._path, *parts)

    def create(
        self,
        help: str,
        options: Sequence[Callable[[Any], Any]] = (),
        extend: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    ) -> None:
        """``create``: a new key from a name and a scope; ``options`` are the kind's own,
        whose values ``extend`` puts into the body."""

        def create(
            server: str,
            org: str,
            name: str,
            apps: tuple[str, ...],
            all_apps: bool,
            methods: tuple[str, ...],
            out: Path | None,
            print_key: bool,
            **own: Any,
        ) -> None:
            server = server.rstrip("/")
            body = _new_scope(name, apps, all_apps, methods)
            if extend is not None:
                extend(body, own)
            with self._secret.reserved(out, print_key) as fd, account_client(server) as http:
                answer = call(http, "POST", self._keys_path(org), body)
                self._secret.hand_over(answer, fd, out, print_key)

        decorators = [server_option, _org_option, *_new_key_options, *options]
        self._add("create", help, create, [*decorators, *self._secret.options()])

    def list(
        self, help: str, empty: str, columns: Sequence[str], wrapped: Sequence[str], row: Row
    ) -> None:
        """``list``: the organization's keys, as a table of ``columns`` (only the
        ``wrapped`` ones may wrap) with a ``row`` per key, or as JSON with ``--json``."""

        def list_keys(server: str, org: str, as_json: bool) -> None:
            server = server.rstrip("/")
            with account_client(server) as http:
                items = call(http, "GET", self._keys_path(org))["items"]
            print_listing(items, as_json, empty, columns, wrapped, row)

        json_option = click.option(
            "--json", "as_json", is_flag=True, help="Print the keys as JSON."
        )
        self._add("list", help, list_keys, [server_option, _org_option, json_option])

    def replace(self, name: str, help: str, grace_help: str, old: str, note: str = "") -> None:
        """``name`` (rotate, reroll): a new secret under the same key ID, the ``old`` one
        working for ``--grace`` seconds, as said on stderr (with ``note``) afterwards."""

        def replace(
            server: str, org: str, key_id: str, grace: int, out: Path | None, print_key: bool
        ) -> None:
            server = server.rstrip("/")
            with self._secret.reserved(out, print_key) as fd, account_client(server) as http:
                path = self._keys_path(org, key_id, name)
                self._secret.hand_over(
                    call(http, "POST", path, {"graceSeconds": grace}), fd, out, print_key
                )
            state = f"works for {grace} more seconds" if grace else "no longer works"
            click.echo(f"{old} {state}{note}", err=True)

        grace = click.option(
            "--grace",
            type=click.IntRange(0, MAX_GRACE_SECONDS),
            default=0,
            show_default=True,
            help=grace_help,
        )
        decorators = [server_option, _org_option, _key_id_option, grace, *self._secret.options()]
        self._add(name, help, replace, decorators)

    def remove(self, name: str, help: str, method: str, noun: str, done: str) -> None:
        """``name`` (delete, revoke): ``method`` on the key (``POST …/revoke`` for a
        revocation) after a confirmation unless ``--yes``; ``noun`` names the kind in the
        question, ``done`` (past tense) in the answers."""

        def remove(server: str, org: str, key_id: str, yes: bool) -> None:
            server = server.rstrip("/")
            with account_client(server) as http:
                key = call(http, "GET", self._keys_path(org, key_id))
                if not yes:
                    _confirm_or_fail(
                        f"{name.capitalize()} {noun} {key['name']!r} ({key['keyId']})? "
                        "Clients using it will be refused",
                        f"not {done} (confirm, or pass --yes)",
                    )
                action = [] if method == "DELETE" else [name]
                call(http, method, self._keys_path(org, key_id, *action))
            click.echo(f"{done} {noun} {key['keyId']}")

        yes = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
        self._add(name, help, remove, [server_option, _org_option, _key_id_option, yes])

    def _add(
        self,
        name: str,
        help: str,
        command: Callable[..., None],
        decorators: Sequence[Callable[[Any], Any]],
    ) -> None:
        self._group.command(name, help=help)(_stacked(command, decorators))


def _confirm_or_fail(question: str, refusal: str) -> None:
    """Ask on stderr (default no); anything but yes fails the command with ``refusal``."""
    try:
        confirmed = click.confirm(question, default=False, err=True)
    except click.Abort:
        confirmed = False
    if not confirmed:
        fail(refusal)
