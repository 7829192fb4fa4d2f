"""Client commands against a running server: login and whoami."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click
import httpx

from propusk.client.auth import AuthError, PasswordAuth, RefreshTokenAuth, Tokens

from .context import console, fail

DEFAULT_SERVER = "http://127.0.0.1:8080"


def credentials_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "propusk" / "credentials.json"


def _load_all() -> dict[str, Any]:
    path = credentials_file()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_tokens(server: str, tokens: Tokens) -> None:
    """Keep tokens per server in a file only the user can read."""
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = _load_all()
    data[server] = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at,
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # O_CREAT's mode applies only to a new file: a leftover .tmp keeps its old mode.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    tmp.replace(path)


def load_tokens(server: str) -> Tokens | None:
    entry = _load_all().get(server)
    if not isinstance(entry, dict):
        return None
    try:
        return Tokens(entry["access_token"], entry["refresh_token"], float(entry["expires_at"]))
    except (KeyError, TypeError, ValueError):
        return None


server_option = click.option(
    "--server",
    envvar="PROPUSK_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    help="Base URL of the Propusk server.",
)


@click.command()
@server_option
@click.option("--username", "-u", prompt=True, help="The account's e-mail address.")
@click.option("--password", prompt=True, hide_input=True, envvar="PROPUSK_PASSWORD")
def login(server: str, username: str, password: str) -> None:
    """Log in and keep the tokens for later commands."""
    server = server.rstrip("/")
    auth = PasswordAuth(server, username, password, on_tokens=lambda t: save_tokens(server, t))
    try:
        with httpx.Client(auth=auth, timeout=30) as http:
            response = http.get(f"{server}/v1/user/profile")
    except AuthError as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}")
    if response.status_code != 200:
        fail(f"profile request failed: {response.status_code}")
    console.print(f"logged in to {server} as {response.json().get('login')}")


@click.command()
@server_option
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def whoami(server: str, as_json: bool) -> None:
    """Show the account the stored tokens belong to."""
    server = server.rstrip("/")
    tokens = load_tokens(server)
    if tokens is None:
        fail(f"not logged in to {server}: run `propusk login --server {server}`")
    auth = RefreshTokenAuth(server, tokens, on_tokens=lambda t: save_tokens(server, t))
    try:
        with httpx.Client(auth=auth, timeout=30) as http:
            response = http.get(f"{server}/v1/user/profile")
    except AuthError as exc:
        fail(f"{exc} (log in again)")
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}")
    if response.status_code != 200:
        fail(f"profile request failed: {response.status_code}")
    profile = response.json()
    if as_json:
        click.echo(json.dumps(profile, indent=2))
        return
    console.print(f"{profile.get('login') or profile.get('id')}")
    console.print(f"  id: {profile.get('id')}")
    console.print(f"  roles: {', '.join(profile.get('roles', []))}")
    current = auth.tokens or tokens  # the flow may have refreshed them
    left = int(current.expires_at - time.time())
    console.print(f"  server: {server} (access token valid for ~{max(left, 0)} s)")
