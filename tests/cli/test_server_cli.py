"""Server administration commands: init, config show, keys, and serve's refusals."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from propusk.storage import migrate
from tests.cli.support import invoke, mode, query, run


def line_value(output: str, label: str) -> str:
    """The value of the ``label: value`` line in a command's output."""
    for line in output.splitlines():
        if line.startswith(f"{label}: "):
            return line.removeprefix(f"{label}: ")
    raise AssertionError(f"no {label!r} line in:\n{output}")


def new_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def initialized(data_dir: Path) -> str:
    """An initialized data directory; returns the signing key's kid."""
    result = invoke("--data-dir", data_dir, "init")
    assert result.exit_code == 0, result.output
    return line_value(result.stdout, "signing key")


# -- init ---------------------------------------------------------------------------------


def test_init_creates_a_private_data_dir_key_database_and_signing_key(data_dir: Path) -> None:
    assert not data_dir.exists()

    result = invoke("--data-dir", data_dir, "init")

    assert result.exit_code == 0, result.output
    assert mode(data_dir) == 0o700
    key_file = data_dir / "master.key"
    assert mode(key_file) == 0o600
    assert len(base64.urlsafe_b64decode(key_file.read_text().strip())) == 32
    database = data_dir / "propusk.db"
    assert query(database, "SELECT version_num FROM alembic_version") == [
        (migrate.head_revision(),)
    ]
    kid = line_value(result.stdout, "signing key")
    assert query(database, "SELECT kid, purpose, algorithm, retired_at FROM server_keys") == [
        (kid, "access-signing", "RS256", None)
    ]
    # The private key is sealed, never stored in the clear.
    [(sealed,)] = query(database, "SELECT sealed_private FROM server_keys")
    assert isinstance(sealed, bytes)
    assert sealed.startswith(b"PS1")
    assert line_value(result.stdout, "master key") == str(key_file)
    assert line_value(result.stdout, "data directory") == str(data_dir.resolve())


def test_init_twice_keeps_the_master_key_and_the_signing_key(
    data_dir: Path, initialized: str
) -> None:
    key_before = (data_dir / "master.key").read_bytes()
    data_dir.chmod(0o755)  # someone loosened it: init tightens it again

    again = invoke("--data-dir", data_dir, "init")

    assert again.exit_code == 0, again.output
    assert line_value(again.stdout, "signing key") == initialized
    assert (data_dir / "master.key").read_bytes() == key_before
    assert query(data_dir / "propusk.db", "SELECT kid FROM server_keys") == [(initialized,)]
    assert mode(data_dir) == 0o700


def test_init_with_the_master_key_in_the_environment_writes_no_key_file(data_dir: Path) -> None:
    result = invoke("--data-dir", data_dir, "init", env={"PROPUSK_MASTER_KEY": new_master_key()})
    assert result.exit_code == 0, result.output
    assert line_value(result.stdout, "master key") == "PROPUSK_MASTER_KEY"
    assert not (data_dir / "master.key").exists()


def test_init_refuses_a_master_key_file_others_can_read(data_dir: Path, initialized: str) -> None:
    (data_dir / "master.key").chmod(0o644)
    result = invoke("--data-dir", data_dir, "init")
    assert result.exit_code == 1
    assert "readable by others" in result.stderr
    assert "chmod 600" in result.stderr


def test_init_refuses_a_malformed_master_key(data_dir: Path) -> None:
    result = invoke("--data-dir", data_dir, "init", env={"PROPUSK_MASTER_KEY": "too-short"})
    assert result.exit_code == 1
    assert "PROPUSK_MASTER_KEY" in result.stderr
    assert "Traceback" not in result.output


# -- config show --------------------------------------------------------------------------


def test_config_show_masks_every_secret(data_dir: Path) -> None:
    master_key = new_master_key()
    smtp_password = "smtp-" + secrets.token_urlsafe(12)
    db_password = "db-" + secrets.token_urlsafe(12)
    env = {
        "PROPUSK_MASTER_KEY": master_key,
        "PROPUSK_SMTP_PASSWORD": smtp_password,
        "PROPUSK_SMTP_USERNAME": "mailer",
        "PROPUSK_DATABASE_URL": f"postgresql+asyncpg://propusk:{db_password}@db.internal/propusk",
        "PROPUSK_REDIS_URL": f"redis://default:{db_password}@cache.internal:6379/0",
    }

    result = invoke("--data-dir", data_dir, "config", "show", env=env)

    assert result.exit_code == 0, result.output
    for secret in (master_key, smtp_password, db_password):
        assert secret not in result.output
    shown = json.loads(result.stdout)
    assert shown["master_key"] == "**********"
    assert shown["smtp_password"] == "**********"
    assert shown["smtp_username"] == "mailer"
    assert shown["database_url"] == "postgresql+asyncpg://propusk:**********@db.internal/propusk"
    assert shown["redis_url"] == "redis://default:**********@cache.internal:6379/0"
    assert "**********" in result.stdout
    assert not data_dir.exists()  # showing the configuration touches nothing


def test_config_show_without_secrets_shows_null_and_the_sqlite_url(data_dir: Path) -> None:
    result = invoke("--data-dir", data_dir, "config", "show")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["master_key"] is None
    assert shown["smtp_password"] is None
    assert shown["mode"] == "production"  # the safe default
    assert shown["data_dir"] == str(data_dir)
    assert shown["database_url"] == f"sqlite+aiosqlite:///{(data_dir / 'propusk.db').resolve()}"


def test_toml_file_then_environment_then_options(tmp_path: Path) -> None:
    config = tmp_path / "propusk.conf.toml"
    config.write_text(
        'mode = "development"\n'
        "port = 9000\n"
        "access_token_ttl = 600\n"
        'data_dir = "from-file"\n'
        'roles = ["user", "admin", "auditor"]\n'
        "[smtp]\n"
        'host = "mail.example"\n'
        "port = 2525\n"
        'password = "file-secret-value"\n',
        encoding="utf-8",
    )
    env = {"PROPUSK_PORT": "9100", "PROPUSK_SMTP_PORT": "587"}

    shown = json.loads(invoke("--config", config, "config", "show", env=env).stdout)

    assert shown["mode"] == "development"  # file
    assert shown["access_token_ttl"] == 600  # file
    assert shown["roles"] == ["user", "admin", "auditor"]  # file
    assert shown["smtp_host"] == "mail.example"  # [smtp] host, flattened
    assert shown["port"] == 9100  # environment beats the file
    assert shown["smtp_port"] == 587  # environment beats the file's table
    assert shown["smtp_password"] == "**********"
    assert shown["data_dir"] == "from-file"

    # --data-dir beats both; PROPUSK_CONFIG names the file when --config is absent.
    overridden = invoke(
        "--data-dir",
        "from-option",
        "config",
        "show",
        env={**env, "PROPUSK_CONFIG": str(config), "PROPUSK_DATA_DIR": "from-env"},
    )
    assert overridden.exit_code == 0, overridden.output
    assert "file-secret-value" not in overridden.output
    shown = json.loads(overridden.stdout)
    assert shown["data_dir"] == "from-option"
    assert shown["port"] == 9100
    assert shown["smtp_host"] == "mail.example"


def test_propusk_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "propusk.toml").write_text("access_token_ttl = 120\n", encoding="utf-8")
    shown = json.loads(invoke("config", "show").stdout)
    assert shown["access_token_ttl"] == 120


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        (None, {}, "does not exist"),
        ("port = [", {}, "is not valid TOML"),
        ("port = 0\n", {}, "invalid configuration: port"),
        ("", {"PROPUSK_ACCESS_TOKEN_TTL": "ten"}, "invalid configuration: access_token_ttl"),
        ("", {"PROPUSK_MODE": "staging"}, "invalid configuration: mode"),
        ('unknown_setting = "x"\n', {}, "unknown_setting"),
        ('roles = ["user"]\n', {}, "roles must include"),
    ],
)
def test_bad_configuration_fails_with_a_clear_message(
    tmp_path: Path, content: str | None, env: dict[str, str], message: str
) -> None:
    config = tmp_path / "bad.toml"
    if content is not None:
        config.write_text(content, encoding="utf-8")
    result = invoke("--config", config, "config", "show", env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stdout == ""


# -- keys ---------------------------------------------------------------------------------


def test_rotate_signing_adds_a_key_and_the_old_one_keeps_verifying(
    data_dir: Path, initialized: str
) -> None:
    rotated = invoke("--data-dir", data_dir, "keys", "rotate-signing")
    assert rotated.exit_code == 0, rotated.output
    new_kid = line_value(rotated.stdout, "new signing key")
    assert new_kid != initialized

    listing = invoke("--data-dir", data_dir, "keys", "list")

    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    assert len(lines) == 2
    old, new = lines
    assert old.startswith(f"{initialized}  access-signing  RS256  verifies until 20")
    assert new == f"{new_kid}  access-signing  RS256  active"
    # init after a rotation reports the new key and adds none.
    again = invoke("--data-dir", data_dir, "init")
    assert line_value(again.stdout, "signing key") == new_kid
    assert len(query(data_dir / "propusk.db", "SELECT kid FROM server_keys")) == 2
    events = query(
        data_dir / "propusk.db",
        "SELECT target_id FROM audit_events WHERE kind = 'keyring.signing_rotated'",
    )
    assert events == [(new_kid,)]


def test_db_current_reports_the_head(data_dir: Path, initialized: str) -> None:
    result = invoke("--data-dir", data_dir, "db", "current")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == migrate.head_revision()


# -- serve refuses to start ---------------------------------------------------------------
# As child processes: if a refusal regressed, an in-process `serve` would block the tests.


def test_serve_refuses_without_a_master_key_outside_development(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("--data-dir", empty, "serve", cwd=tmp_path, env={"PROPUSK_MODE": "production"})
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: no master key")
    assert "PROPUSK_MASTER_KEY" in result.stderr
    assert "propusk init" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(empty.iterdir()) == []  # nothing invented on the way


def test_serve_refuses_a_database_not_at_the_schema_head(data_dir: Path, initialized: str) -> None:
    database = data_dir / "propusk.db"
    with closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")

    result = run("--data-dir", data_dir, "serve", cwd=data_dir.parent)

    assert result.returncode == 1, result.stderr
    assert "schema is at 9999_from_the_future" in result.stderr
    assert f"not at {migrate.head_revision()}" in result.stderr
    assert "propusk init" in result.stderr


def test_serve_refuses_an_empty_or_missing_database(tmp_path: Path) -> None:
    env = {"PROPUSK_MASTER_KEY": new_master_key()}
    missing = run("--data-dir", tmp_path / "nowhere", "serve", cwd=tmp_path, env=env)
    assert missing.returncode == 1, missing.stderr
    assert "there is no database at" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not (tmp_path / "nowhere").exists()

    unmigrated = tmp_path / "unmigrated"
    unmigrated.mkdir()
    sqlite3.connect(unmigrated / "propusk.db").close()
    empty = run("--data-dir", unmigrated, "serve", cwd=tmp_path, env=env)
    assert empty.returncode == 1, empty.stderr
    assert "schema is empty" in empty.stderr


def test_init_refuses_to_replace_a_lost_master_key(data_dir: Path, initialized: str) -> None:
    (data_dir / "master.key").unlink()
    result = invoke("--data-dir", data_dir, "init")
    assert result.exit_code == 1
    assert "already holds server keys" in result.stderr
    assert not (data_dir / "master.key").exists()  # no useless new key was written


def test_a_wrong_master_key_is_a_clear_error(data_dir: Path, initialized: str) -> None:
    wrong = {"PROPUSK_MASTER_KEY": new_master_key()}
    for args in (("init",), ("serve",)):
        result = run("--data-dir", data_dir, *args, cwd=data_dir.parent, env=wrong)
        assert result.returncode == 1, result.stderr
        assert "does not open the server keys" in result.stderr
        assert "Traceback" not in result.stderr


def test_rotate_signing_refuses_a_wrong_master_key(data_dir: Path, initialized: str) -> None:
    result = invoke(
        "--data-dir", data_dir, "keys", "rotate-signing",
        env={"PROPUSK_MASTER_KEY": new_master_key()},
    )  # fmt: skip
    assert result.exit_code == 1
    assert "does not open the server keys" in result.stderr
    assert query(data_dir / "propusk.db", "SELECT kid FROM server_keys") == [(initialized,)]
