"""Listings for people and scripts: a table that never wraps what must stay whole (ids,
times), or the items as JSON with ``--json``; times in one format."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["print_listing", "table_console", "when"]


def print_listing(
    items: list[dict[str, Any]],
    as_json: bool,
    empty: str,
    columns: Sequence[str],
    wrapped: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[str]],
) -> None:
    """The items as JSON, ``empty`` when there are none, or a table of ``columns`` with
    one ``row`` per item (only the ``wrapped`` columns may wrap)."""
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo(empty)
        return
    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=column not in wrapped)
    for item in items:
        # Text, not str: data is never read as rich markup.
        table.add_row(*(Text(cell) for cell in row(item)))
    table_console().print(table)


def table_console() -> Console:
    """A console for tables: the terminal's width, or wide enough never to wrap an id."""
    console = Console(highlight=False, markup=False, emoji=False)
    if not console.is_terminal:
        # Piped or captured: no terminal width to fit, and wrapped key IDs break scripts.
        console = Console(highlight=False, markup=False, emoji=False, width=240)
    return console


def when(value: str | None) -> str:
    """An answer's ISO 8601 time as ``YYYY-MM-DD HH:MM UTC`` (``never`` for none)."""
    if not value:
        return "never"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
