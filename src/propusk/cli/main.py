"""Entry point of the ``propusk`` command."""

from __future__ import annotations

from pathlib import Path

import click

from propusk import __version__

from . import account, api_keys, server, service_keys
from .certificates import ca, cert, csr
from .context import CliContext
from .hash import hash_group
from .sign import keygen, sign


@click.group()
@click.version_option(__version__, prog_name="propusk")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    envvar="PROPUSK_CONFIG",
    help="TOML configuration file (default: ./propusk.toml if present).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data directory (overrides the configuration).",
)
@click.option("--dev", is_flag=True, help="Development mode (relaxed checks; never in production).")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, data_dir: Path | None, dev: bool) -> None:
    """Propusk: an authorization server for API providers."""
    overrides: dict[str, object] = {"data_dir": data_dir}
    if dev:
        overrides["mode"] = "development"
    ctx.obj = CliContext(config_file=config_file, overrides=overrides)


for command in (
    server.init,
    server.serve,
    server.db,
    server.config,
    server.keys,
    server.admin,
    account.login,
    account.whoami,
    service_keys.service_key,
    api_keys.api_key,
    ca,
    csr,
    cert,
    hash_group,
    sign,
    keygen,
):
    cli.add_command(command)


def main() -> None:
    cli()
