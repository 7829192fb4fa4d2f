"""``propusk api-key``: create, list, reroll and revoke an organization's managed API keys.

The commands act as the account that ``propusk login`` stored for ``--server``, as
``propusk service-key`` does; an organization's owners and admins manage its keys, and
every member may list them.

A key (``propusk_<keyId>_<secret>``) is shown once: it goes to a new file with mode 0600
(never over an existing one), and to stdout only with ``--print-key``. Listings show its
prefix and last four characters, never more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from propusk.core.apikeys import parse_api_key

from .context import fail
from .key_commands import KeyCommands, Secret, write_secret
from .listing import when

__all__ = ["api_key"]


@click.group("api-key")
def api_key() -> None:
    """Managed API keys (X-API-Key): create, list, reroll and revoke them."""


def _hand_over(answer: dict[str, Any], fd: int | None, out: Path | None, print_key: bool) -> None:
    key = answer.get("key")
    if not isinstance(key, str) or parse_api_key(key) is None:
        fail("the server did not return an API key")
    click.echo(answer["keyId"])
    write_secret(fd, out, f"{key}\n", "API key")
    if print_key:
        click.echo(key)


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


def _with_expiry(body: dict[str, Any], own: dict[str, Any]) -> None:
    expires_at = _expiry(own["expires"])
    if expires_at is not None:
        body["expiresAt"] = expires_at


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


def _row(item: dict[str, Any]) -> tuple[str, ...]:
    return (
        item["name"],
        item["keyId"],
        f"{item['prefix']}_…{item['last4']}",
        "\n".join(item["methods"]),
        "\n".join(item["apps"]) or "-",
        when(item["expiresAt"]) if item["expiresAt"] else "never",
        when(item["lastUsedAt"]),
        _status(item, datetime.now(UTC)),
    )


_keys = KeyCommands(
    api_key,
    "api-keys",
    Secret(
        out_help="Write the new key to this new file, mode 0600.",
        print_names=("--print-key",),
        print_help="Print the new key on stdout (after its key ID).",
        missing="the key is shown only once: give --out FILE to save it "
        "(or --print-key to print it)",
        hand_over=_hand_over,
    ),
)
_keys.create(
    "Create a key; print its ID and save the key, which is shown only once.",
    [click.option("--expires", help="When the key stops working (ISO 8601 with a time zone).")],
    _with_expiry,
)
_keys.list(
    "List an organization's keys (prefix and last four characters only).",
    "no API keys",
    ("Name", "Key ID", "Key", "Methods", "Apps", "Expires", "Last used", "Status"),
    ("Name", "Methods", "Apps"),
    _row,
)
_keys.replace(
    "reroll",
    "Replace a key's secret under the same key ID; save the new key.",
    "Seconds during which the old key still works.",
    "the old key",
)
_keys.remove(
    "revoke",
    "Revoke a key for good: requests with it are refused at once.",
    "POST",
    "API key",
    "revoked",
)
