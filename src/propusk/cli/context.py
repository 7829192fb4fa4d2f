"""What every command shares: the settings (read once) and a way to run async code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    # Imported where used: the client commands need neither pydantic nor SQLAlchemy.
    from propusk.config import Settings
    from propusk.wiring import Services

__all__ = ["CliContext", "console", "fail", "file_option", "pass_cli", "run_with_services"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
# Output is read by people and by scripts: no wrapping at the terminal width (rich would
# break paths, kids and URLs across lines), and no markup or emoji codes taken from data
# (an e-mail address or a server's answer could contain ``[...]`` or ``:name:``).
console = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 1."""
    err_console.print(f"[red]error:[/red] {escape(message)}")
    raise SystemExit(1)


@dataclass
class CliContext:
    config_file: Path | None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from propusk.config import ConfigError, load_settings

            try:
                self._settings = load_settings(self.config_file, **self.overrides)
            except ConfigError as exc:
                fail(str(exc))
        return self._settings


pass_cli = click.make_pass_decorator(CliContext)


def file_option(
    *names: str, help: str, exists: bool = False, path_type: type[Any] | None = None
) -> Callable[[F], F]:
    """An optional file (not a directory) given by its path; None when not given."""
    return click.option(
        *names,
        type=click.Path(exists=exists, dir_okay=False, path_type=path_type),
        default=None,
        help=help,
    )


def run_with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Build the services, run ``work`` with them, and close them, on a fresh event loop."""

    from propusk.config import ConfigError
    from propusk.wiring import build_services

    async def main() -> T:
        try:
            services = build_services(settings)
        except ConfigError as exc:
            fail(str(exc))
        try:
            return await work(services)
        finally:
            await services.close()

    return asyncio.run(main())


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)
