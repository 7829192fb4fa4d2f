"""``propusk hash secure|fast [STRING]``: a node's hashes, offline (the "ApiKeyHash" tool).

``propusk hash secure`` prints the Base58 secureHash to put in ``api_key_hash`` (or a
node's ``api-key-hash``). Without STRING, or with ``-``, the string is read from stdin, so
a key never lands in the shell's history::

    $ propusk hash secure          # asks for the string without echoing it
    $ propusk hash secure < key.txt

One trailing newline is dropped from stdin (``echo key |`` and typing both add one); any
other character, spaces included, is part of the key.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

__all__ = ["hash_group"]


def _read_input(value: str | None) -> bytes:
    if value is not None and value != "-":
        return value.encode("utf-8")
    if sys.stdin.isatty():
        # Typed by a person: no echo, so the key stays off the screen as well.
        typed: str = click.prompt("String", hide_input=True, err=True)
        return typed.encode("utf-8")
    data = sys.stdin.buffer.read()
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data


def _print_hash(value: str | None, function: Callable[[bytes], bytes]) -> None:
    from propusk.core.hashes import base58_encode

    click.echo(base58_encode(function(_read_input(value))))


@click.group("hash")
def hash_group() -> None:
    """Waves-compatible hashes (Base58): secureHash for API-key hashes, and fastHash."""


@hash_group.command("secure")
@click.argument("string", required=False)
def hash_secure(string: str | None) -> None:
    """Print Base58(Keccak-256(Blake2b-256(STRING))); STRING from stdin when omitted or -."""
    from propusk.core.hashes import secure_hash

    _print_hash(string, secure_hash)


@hash_group.command("fast")
@click.argument("string", required=False)
def hash_fast(string: str | None) -> None:
    """Print Base58(Blake2b-256(STRING)); STRING from stdin when omitted or -."""
    from propusk.core.hashes import fast_hash

    _print_hash(string, fast_hash)
