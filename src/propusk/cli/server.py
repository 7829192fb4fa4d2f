"""Server administration: init, serve, database, configuration, keys, admins.

The heavy imports (SQLAlchemy, Alembic, the services, the web app) happen inside the
commands that need them, so ``propusk --help`` and the client commands start quickly.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .context import CliContext, console, fail, file_option, pass_cli, run, run_with_services

if TYPE_CHECKING:
    from types import FrameType

    from propusk.config import Settings
    from propusk.services.audit import Origin
    from propusk.web.tls import ServerContextFactory
    from propusk.wiring import Services

# How long SIGTERM waits for requests in flight before closing their connections.
DRAIN_SECONDS = 30


def _exit_drained(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside uvicorn's own handler: exit 0 (see ``serve``)."""
    raise SystemExit(0)


def _cli_origin() -> Origin:
    from propusk.services.audit import Origin

    return Origin(ip=None, user_agent="propusk-cli")


def _master_key(settings: Settings, *, create: bool = False, why: str = "") -> None:
    from propusk.config import ConfigError
    from propusk.services.keyring import load_master_key

    try:
        load_master_key(settings, create=create)
    except ConfigError as exc:
        fail(f"{exc}{why}")


def _existing_keys(settings: Settings) -> int:
    """How many server keys the database already holds (0 for a new database)."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from propusk.storage.db import Database
    from propusk.storage.models import ServerKey

    async def count() -> int:
        db = Database.from_url(settings.effective_database_url)
        try:
            async with db.session() as session:
                return int(await session.scalar(select(func.count()).select_from(ServerKey)) or 0)
        except SQLAlchemyError:
            return 0  # no schema yet
        finally:
            await db.dispose()

    return run(count())


def _check_keyring_opens(settings: Settings) -> None:
    """Fail clearly when the master key does not open this database's keyring."""
    from propusk.core.sealing import SealError

    async def open_keys(services: Services) -> None:
        await services.keyring.signing_key()

    try:
        run_with_services(settings, open_keys)
    except SealError:
        fail(
            "the master key does not open the server keys in this database: the key file or"
            " PROPUSK_MASTER_KEY is not the one this database was initialized with"
        )


def _database_error(settings: Settings, exc: Exception) -> str:
    # SQLAlchemy's own text carries the statement and a link; the driver's is what helps.
    reason = getattr(exc, "orig", None) or exc
    return f"cannot use the database {settings.masked()['database_url']}: {reason}"


def _upgrade(settings: Settings, revision: str = "head") -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from propusk.storage import migrate

    try:
        migrate.upgrade(settings.effective_database_url, revision)
    except (SQLAlchemyError, OSError) as exc:
        fail(_database_error(settings, exc))


def _current_schema(settings: Settings) -> str | None:
    """The schema revision, without creating an empty SQLite file as a side effect."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from propusk.storage import migrate
    from propusk.storage.db import is_sqlite

    url = settings.effective_database_url
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).is_file():
            fail(f"there is no database at {database}: run `propusk init`")
    try:
        return run(migrate.current_revision(url))
    except (SQLAlchemyError, OSError) as exc:
        fail(_database_error(settings, exc))


def _require_schema(settings: Settings) -> None:
    """Refuse to work on a database that is not at this version's schema."""
    from propusk.storage import migrate

    current, head = _current_schema(settings), migrate.head_revision()
    if current != head:
        where = f"at {current}" if current else "empty"
        fail(
            f"the database schema is {where}, not at {head}:"
            " run `propusk init` (or `propusk db upgrade`)"
        )


@click.command()
@pass_cli
def init(cli: CliContext) -> None:
    """Create the data directory, master key, database and server keys. Safe to run twice."""
    from propusk.storage import migrate

    s = cli.settings
    s.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(s.data_dir, 0o700)
    missing_key = s.master_key is None and not s.effective_master_key_file.exists()
    if missing_key and _existing_keys(s):
        # A new master key could never open the keys already sealed in this database.
        fail(
            f"the database already holds server keys but {s.effective_master_key_file} is"
            " missing: restore the master key (file or PROPUSK_MASTER_KEY) instead of"
            " creating a new one"
        )
    _master_key(s, create=s.master_key is None)
    _upgrade(s)

    async def keys(services: Services) -> str:
        return await services.keyring.ensure_signing_key()

    kid = run_with_services(s, keys)
    _check_keyring_opens(s)
    where = s.effective_master_key_file if s.master_key is None else "PROPUSK_MASTER_KEY"
    console.print(f"data directory: {s.data_dir.resolve()}")
    console.print(f"master key: {where}")
    console.print(f"database: {s.masked()['database_url']} (schema {migrate.head_revision()})")
    console.print(f"signing key: {kid}")


def _client_cas(settings: Settings) -> list[str]:
    """The CAs client certificates are verified against in the handshake: the Propusk CA
    (also written to ``<data dir>/propusk-ca.pem`` for proxies and clients) and the extra
    ``tls_client_ca`` files."""
    from propusk.core.errors import NotFound

    async def ca_pem(services: Services) -> str | None:
        try:
            return await services.ca.certificate_pem()
        except NotFound:
            return None

    cas: list[str] = []
    propusk_ca = run_with_services(settings, ca_pem)
    if propusk_ca is not None:
        exported = settings.data_dir / "propusk-ca.pem"
        exported.write_text(propusk_ca)
        cas.append(propusk_ca)
    else:
        console.print("no Propusk CA yet (`propusk ca init`): client certificates not checked")
    for path in settings.tls_client_ca:
        try:
            cas.append(Path(path).read_text())
        except OSError as exc:
            fail(f"tls_client_ca: cannot read {path}: {exc}")
    return cas


def _tls_context_factory(settings: Settings) -> ServerContextFactory | None:
    """Uvicorn's ``ssl_context_factory`` for direct TLS, or None without tls_cert; the
    context is built once here, so that a bad certificate fails before serving."""
    if settings.tls_cert is None and settings.tls_key is None:
        if settings.tls_client_ca or settings.tls_client_cert_required:
            fail("client certificate settings need --tls-cert and --tls-key")
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        fail("direct TLS needs both --tls-cert and --tls-key")
    import ssl

    from propusk.web.tls import ServerContextFactory

    factory = ServerContextFactory(
        settings.tls_cert,
        settings.tls_key,
        tuple(_client_cas(settings)),
        require_client_cert=settings.tls_client_cert_required,
    )
    try:
        factory(None, None)
    except (OSError, ValueError, ssl.SSLError) as exc:
        fail(f"cannot set up TLS: {exc}")
    return factory


def _export_settings(cli: CliContext, overrides: dict[str, object], workers: int) -> None:
    """Worker processes build their app from the environment (``propusk.web.asgi``): hand
    them what this command read from its options, the same way."""
    if cli.config_file is not None:
        os.environ["PROPUSK_CONFIG"] = str(cli.config_file)
    for name, value in {**cli.overrides, **overrides}.items():
        if value is None:
            continue
        text = json.dumps([str(v) for v in value]) if isinstance(value, list) else str(value)
        os.environ[f"PROPUSK_{name.upper()}"] = text
    os.environ["PROPUSK_WORKERS"] = str(workers)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: settings.host).")
@click.option("--port", type=int, default=None, help="Port (default: settings.port).")
@click.option(
    "--workers",
    default=None,
    metavar="N|auto",
    help="Server processes: a number, or auto (one per core). Default: auto with PostgreSQL"
    " and Redis, 1 on the embedded SQLite and in-process cache (several need shared state).",
)
@file_option(
    "--tls-cert",
    path_type=Path,
    help="Serve HTTPS with this certificate (PEM; chain after the leaf).",
)
@file_option("--tls-key", path_type=Path, help="The private key of --tls-cert (PEM).")
@click.option(
    "--tls-client-ca",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    help="An extra CA (PEM) for client certificates, besides the Propusk CA. Repeatable.",
)
@click.option(
    "--tls-client-cert-required/--tls-client-cert-optional",
    default=None,
    help="Refuse TLS handshakes without a client certificate (default: optional).",
)
@pass_cli
def serve(
    cli: CliContext,
    host: str | None,
    port: int | None,
    workers: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_client_ca: tuple[Path, ...],
    tls_client_cert_required: bool | None,
) -> None:
    """Run the server (HTTPS with client certificates when --tls-cert/--tls-key are set)."""
    tls_overrides: dict[str, object] = {
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "tls_client_ca": list(tls_client_ca) or None,
        "tls_client_cert_required": tls_client_cert_required,
    }
    s = cli.settings.model_copy(update={k: v for k, v in tls_overrides.items() if v is not None})
    from propusk.config import ConfigError
    from propusk.wiring import require_shared_state, worker_count

    try:
        processes = worker_count(s, workers)
        require_shared_state(s, processes)
    except ConfigError as exc:
        fail(str(exc))
    _master_key(s, why="\n(the server does not start without the master key)")
    _require_schema(s)
    _check_keyring_opens(s)
    from propusk.web.asgi import configure_logging

    configure_logging(s)  # and again in each worker process (propusk.web.asgi)

    import uvicorn

    tls_factory = _tls_context_factory(s)
    options: dict[str, Any] = {
        "host": host or s.host,
        "port": port or s.port,
        "log_level": s.log_level,
        "proxy_headers": False,  # Propusk resolves X-Forwarded-For itself (trusted_proxies)
        "server_header": False,
        # SIGTERM: stop accepting, let requests in flight finish (at most this long), then
        # the lifespan writes the pending lastUsedAt batches and the process exits 0.
        "timeout_graceful_shutdown": DRAIN_SECONDS,
    }
    if tls_factory is not None:
        from propusk.web.tls import TLSExtensionProtocol

        # The protocol puts the verified client certificate into each request's scope.
        options.update(ssl_context_factory=tls_factory, http=TLSExtensionProtocol)
    if processes > 1:
        # Each worker builds its own app from the environment (propusk.web.asgi).
        _export_settings(cli, tls_overrides, processes)
        console.print(f"{processes} worker processes")
        uvicorn.run("propusk.web.asgi:create_app", factory=True, workers=processes, **options)
        return
    import signal

    from propusk.web.app import create_app

    try:
        app = create_app(s)
    except ConfigError as exc:
        fail(str(exc))
    # uvicorn drains on SIGTERM, then raises the signal again for the handler it found: the
    # default one would end a cleanly drained server as killed by SIGTERM (status 143), and
    # supervisors would take that for a failure. (With workers, uvicorn's supervisor
    # process handles the signal itself and exits 0.)
    signal.signal(signal.SIGTERM, _exit_drained)
    uvicorn.run(app, **options)


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_cli
def db_upgrade(cli: CliContext, revision: str) -> None:
    """Apply migrations."""
    from propusk.storage.db import is_sqlite

    s = cli.settings
    if is_sqlite(s.effective_database_url):
        s.data_dir.mkdir(parents=True, exist_ok=True)
    _upgrade(s, revision)
    console.print(f"schema at {_current_schema(s)}")


@db.command("current")
@pass_cli
def db_current(cli: CliContext) -> None:
    """Print the schema revision of the database."""
    console.print(str(_current_schema(cli.settings)))


@click.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@pass_cli
def config_show(cli: CliContext) -> None:
    """Print the effective settings, secrets masked."""
    click.echo(json.dumps(cli.settings.masked(), indent=2, default=str))


@click.group()
def keys() -> None:
    """The server keyring."""


@keys.command("rotate-signing")
@pass_cli
def keys_rotate(cli: CliContext) -> None:
    """Add a new access-token signing key; the old one verifies until its tokens expire."""
    s = cli.settings
    _require_schema(s)
    _check_keyring_opens(s)  # never seal a new key with a master key that is not this one
    # The servers may run with a longer access-token lifetime than this CLI's settings
    # say, so the old key keeps verifying for the longest lifetime allowed (one day).
    verify_for = timedelta(seconds=86400 + s.token_leeway + 60)

    async def rotate(services: Services) -> str:
        kid = await services.keyring.rotate_signing(verify_for)
        await services.audit.record(
            "keyring.signing_rotated",
            actor_type="system",
            origin=_cli_origin(),
            target_type="server_key",
            target_id=kid,
        )
        return kid

    console.print(f"new signing key: {run_with_services(s, rotate)}")


@keys.command("list")
@pass_cli
def keys_list(cli: CliContext) -> None:
    """List server keys (no key material)."""
    _require_schema(cli.settings)

    async def listing(services: Services) -> list[dict[str, object]]:
        return await services.keyring.list_keys()

    for row in run_with_services(cli.settings, listing):
        state = "active" if row["retired_at"] is None else f"verifies until {row['verify_until']}"
        console.print(f"{row['kid']}  {row['purpose']}  {row['algorithm']}  {state}")


@click.group()
def admin() -> None:
    """Administrators and roles."""


@admin.command("create")
@click.option("--email", required=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="PROPUSK_ADMIN_PASSWORD",
    help="Prompted for when not given.",
)
@pass_cli
def admin_create(cli: CliContext, email: str, password: str) -> None:
    """Create the first administrator (or give an existing account the admin role)."""
    from propusk.core.errors import PropuskError

    _require_schema(cli.settings)

    async def create(services: Services) -> tuple[str, bool]:
        return await services.accounts.create_admin(email, password, _cli_origin())

    try:
        account_id, created = run_with_services(cli.settings, create)
    except PropuskError as exc:
        fail(exc.message)
    what = "created" if created else "already existed; admin role granted"
    console.print(f"administrator {email} {what} (id {account_id})")


@admin.command("set-roles")
@click.argument("email")
@click.argument("roles", nargs=-1, required=True)
@pass_cli
def admin_set_roles(cli: CliContext, email: str, roles: tuple[str, ...]) -> None:
    """Set an account's roles (``user`` is always kept)."""
    from propusk.core.errors import PropuskError

    _require_schema(cli.settings)

    async def assign(services: Services) -> list[str]:
        account_id = await services.accounts.find_id_by_email(email)
        return await services.accounts.set_roles(None, account_id, roles, _cli_origin())

    try:
        console.print("roles: " + ", ".join(run_with_services(cli.settings, assign)))
    except PropuskError as exc:
        fail(exc.message)
