"""Administrators and roles from the command line, checked through the real API; then the
whole path a newcomer takes: init, serve, admin create, login, whoami, as real processes."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from fastapi import FastAPI

from propusk.cli.account import credentials_file, load_tokens, save_tokens
from propusk.client import Tokens
from propusk.config import load_settings
from propusk.services.accounts import CONFIRM_PREFIX
from propusk.web.app import create_app
from tests.cli.support import free_port, invoke, mode, query, run, serving
from tests.support import Mailbox

ADMIN_PASSWORD = "admin password 42"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    result = invoke("--data-dir", data, "init")
    assert result.exit_code == 0, result.output
    return data


@pytest.fixture
def app(data_dir: Path, mailbox: Mailbox) -> FastAPI:
    """The server over the CLI's data directory, as `propusk serve` builds it."""
    settings = load_settings(
        environ={}, data_dir=data_dir, smtp_host="127.0.0.1", smtp_port=mailbox.port
    )
    return create_app(settings)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 50000))
    # The ASGI transport does not run the lifespan (startup checks, shutdown closes the
    # services); run it as uvicorn would.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://propusk") as client,
    ):
        yield client


async def propusk(*args: str | Path, input: str | None = None) -> Result:
    """The CLI in a worker thread: its commands run their own event loops."""
    return await asyncio.to_thread(lambda: invoke(*args, input=input))


async def log_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/v1/auth/login", json={"username": email, "password": password})


async def profile(http: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    answer = await log_in(http, email, password)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    response = await http.get("/v1/user/profile", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


# -- admin create -------------------------------------------------------------------------


async def test_admin_create_makes_a_confirmed_admin_who_can_log_in(
    data_dir: Path, http: httpx.AsyncClient
) -> None:
    result = await propusk(
        "--data-dir", data_dir, "admin", "create", "--email", "root@example.com",
        "--password", ADMIN_PASSWORD,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("administrator root@example.com created (id ")
    answer = await log_in(http, "root@example.com", ADMIN_PASSWORD)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    me = await http.get("/v1/user/profile", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["roles"] == ["admin", "user"]
    assert me.json()["confirmed"] is True
    assert me.json()["id"] in result.stdout
    # The token carries the role: an admin-only endpoint answers.
    found = await http.get(
        "/v1/admin/accounts",
        params={"email": "root@example.com"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert found.status_code == 200, found.text
    # Only the argon2 hash is stored.
    [(stored,)] = query(
        data_dir / "propusk.db",
        "SELECT password_hash FROM accounts WHERE email = ?",
        "root@example.com",
    )
    assert isinstance(stored, str)
    assert stored.startswith("$argon2id$")
    assert ADMIN_PASSWORD not in stored


async def test_admin_create_for_an_existing_account_grants_admin_and_keeps_its_password(
    data_dir: Path, http: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    email = "promoted@example.com"
    registered = await http.post(
        "/v1/user", json={"login": email, "password": "users own password"}
    )
    assert registered.status_code == 201, registered.text
    code = mailbox.last(email).code(CONFIRM_PREFIX)
    assert (await http.get(f"/v1/user/confirm/{code}")).status_code == 200
    assert (await profile(http, email, "users own password"))["roles"] == ["user"]

    result = await propusk(
        "--data-dir", data_dir, "admin", "create", "--email", email,
        "--password", "a different password",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "already existed; admin role granted" in result.stdout
    assert registered.json()["id"] in result.stdout
    assert (await profile(http, email, "users own password"))["roles"] == ["admin", "user"]
    assert (await log_in(http, email, "a different password")).status_code == 401


async def test_admin_create_prompts_for_the_password_twice(
    data_dir: Path, http: httpx.AsyncClient
) -> None:
    mismatch = await propusk(
        "--data-dir", data_dir, "admin", "create", "--email", "typo@example.com",
        input="first password\nsecond password\nfirst password\nfirst password\n",
    )  # fmt: skip
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output
    assert ADMIN_PASSWORD not in mismatch.output
    assert "first password" not in mismatch.stdout  # hidden input is not echoed
    assert (await profile(http, "typo@example.com", "first password"))["roles"] == [
        "admin",
        "user",
    ]


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("weak@example.com", "short", "at least 8 characters"),
        ("not-an-email", ADMIN_PASSWORD, "e-mail"),
    ],
)
def test_admin_create_refuses_bad_input(
    data_dir: Path, email: str, password: str, message: str
) -> None:
    result = invoke(
        "--data-dir", data_dir, "admin", "create", "--email", email, "--password", password
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert password not in result.output
    assert query(data_dir / "propusk.db", "SELECT count(*) FROM accounts") == [(0,)]


@pytest.mark.parametrize("key_in_env", [False, True])
def test_admin_commands_need_an_initialized_database(tmp_path: Path, key_in_env: bool) -> None:
    fresh = tmp_path / "fresh"
    env = {"PROPUSK_MASTER_KEY": base64.urlsafe_b64encode(bytes(32)).decode()} if key_in_env else {}
    for command in (
        ["admin", "create", "--email", "a@example.com", "--password", ADMIN_PASSWORD],
        ["admin", "set-roles", "a@example.com", "privacy"],
        ["keys", "list"],
    ):
        result = invoke("--data-dir", fresh, *command, env=env)
        assert result.exit_code == 1, command
        assert "run `propusk init`" in result.stderr
        assert not fresh.exists()


# -- admin set-roles ----------------------------------------------------------------------


async def test_set_roles_replaces_the_roles_and_keeps_user(
    data_dir: Path, http: httpx.AsyncClient
) -> None:
    email = "roles@example.com"
    created = await propusk(
        "--data-dir", data_dir, "admin", "create", "--email", email, "--password", ADMIN_PASSWORD
    )
    assert created.exit_code == 0, created.output

    result = await propusk("--data-dir", data_dir, "admin", "set-roles", email, "privacy")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "roles: privacy, user"
    assert (await profile(http, email, ADMIN_PASSWORD))["roles"] == ["privacy", "user"]
    events = query(
        data_dir / "propusk.db",
        "SELECT data FROM audit_events WHERE kind = 'account.roles_changed'",
    )
    assert [json.loads(str(data)) for (data,) in events] == [
        {"before": ["admin", "user"], "after": ["privacy", "user"]}
    ]

    both = await propusk(
        "--data-dir", data_dir, "admin", "set-roles", email, "admin", "confidential_contracts"
    )
    assert both.stdout.strip() == "roles: admin, confidential_contracts, user"


async def test_set_roles_refuses_unknown_roles_and_changes_nothing(
    data_dir: Path, http: httpx.AsyncClient
) -> None:
    email = "careful@example.com"
    await propusk(
        "--data-dir", data_dir, "admin", "create", "--email", email, "--password", ADMIN_PASSWORD
    )

    result = await propusk(
        "--data-dir", data_dir, "admin", "set-roles", email, "privacy", "superuser"
    )

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unknown roles: superuser"
    assert result.stdout == ""
    assert (await profile(http, email, ADMIN_PASSWORD))["roles"] == ["admin", "user"]


def test_set_roles_for_an_unknown_account_fails(data_dir: Path) -> None:
    result = invoke("--data-dir", data_dir, "admin", "set-roles", "ghost@example.com", "privacy")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: No such account"


def test_set_roles_needs_at_least_one_role(data_dir: Path) -> None:
    result = invoke("--data-dir", data_dir, "admin", "set-roles", "ghost@example.com")
    assert result.exit_code == 2  # click's usage error
    assert "Missing argument 'ROLES...'" in result.stderr


# -- the client side: stored credentials -------------------------------------------------


def test_saved_credentials_are_private_even_over_a_leftover_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = credentials_file()
    assert path == tmp_path / "xdg" / "propusk" / "credentials.json"
    path.parent.mkdir(parents=True)
    leftover = path.with_suffix(".tmp")
    leftover.write_text("{}", encoding="utf-8")
    leftover.chmod(0o644)  # an interrupted earlier write, say

    first = Tokens("access-1", "propusk_rt_one", 1000.0)
    save_tokens("http://a.example", first)
    assert mode(path) == 0o600
    assert not leftover.exists()

    save_tokens("http://b.example", Tokens("access-2", "propusk_rt_two", 2000.0))
    assert mode(path) == 0o600
    assert load_tokens("http://a.example") == first
    assert load_tokens("http://b.example") == Tokens("access-2", "propusk_rt_two", 2000.0)
    assert load_tokens("http://c.example") is None


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"http://a.example": "x"}', '{"http://a.example": {"access_token": 1}}'],
)
def test_unreadable_credentials_mean_not_logged_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    credentials_file().parent.mkdir(parents=True)
    credentials_file().write_text(content, encoding="utf-8")
    assert load_tokens("http://a.example") is None
    result = invoke("whoami", "--server", "http://a.example", env={})
    assert result.exit_code == 1
    assert "not logged in to http://a.example" in result.stderr


def test_login_to_an_unreachable_server_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = invoke("login", "--server", url, "-u", "a@example.com", "--password", "pw")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach {url}")
    assert not credentials_file().exists()


# -- end to end, as real processes --------------------------------------------------------


def test_init_serve_admin_login_whoami(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config_home = tmp_path / "xdg"
    # HOME too, so a fallback to ~/.config could not touch the real one.
    env = {"XDG_CONFIG_HOME": str(config_home), "HOME": str(tmp_path)}
    email, password = "e2e@example.com", "e2e password " + "x" * 12
    credentials = config_home / "propusk" / "credentials.json"

    init = run("--data-dir", data, "init", cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr

    with serving(data, cwd=tmp_path, env=env) as url:
        created = run(
            "--data-dir", data, "admin", "create", "--email", email, "--password", password,
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr

        anonymous = run("whoami", "--server", url, cwd=tmp_path, env=env)
        assert anonymous.returncode == 1
        assert anonymous.stderr.strip() == (
            f"error: not logged in to {url}: run `propusk login --server {url}`"
        )

        refused = run(
            "login", "--server", url, "-u", email, "--password", "not the password",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert refused.returncode == 1
        assert "invalid_credentials" in refused.stderr
        assert not credentials.exists()

        logged_in = run(
            "login", "--server", f"{url}/", "-u", email, "--password", password,
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert logged_in.returncode == 0, logged_in.stderr
        assert logged_in.stdout.strip() == f"logged in to {url} as {email}"

        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        assert mode(credentials.parent) == 0o700
        saved = credentials.read_text(encoding="utf-8")
        assert password not in saved
        stored = json.loads(saved)
        assert list(stored) == [url]  # the trailing slash is not part of the key
        assert set(stored[url]) == {"access_token", "refresh_token", "expires_at"}
        assert stored[url]["refresh_token"].startswith("propusk_rt_")

        me = run("whoami", "--server", url, cwd=tmp_path, env=env)
        assert me.returncode == 0, me.stderr
        lines = me.stdout.splitlines()
        assert lines[0] == email
        assert lines[1].startswith("  id: ")
        assert lines[2] == "  roles: admin, user"
        assert lines[3].startswith(f"  server: {url} (access token valid for ~")

        # Stored tokens past their expiry: whoami refreshes them and saves the new pair.
        stored[url]["expires_at"] = 0
        credentials.write_text(json.dumps(stored), encoding="utf-8")
        refreshed = run("whoami", "--server", url, "--json", cwd=tmp_path, env=env)
        assert refreshed.returncode == 0, refreshed.stderr
        profile_json = json.loads(refreshed.stdout)
        assert profile_json["login"] == email
        assert profile_json["roles"] == ["admin", "user"]
        rotated = json.loads(credentials.read_text(encoding="utf-8"))[url]
        assert rotated["refresh_token"] != stored[url]["refresh_token"]
        assert rotated["expires_at"] > 0
        assert mode(credentials) == 0o600

        # The server's log never saw the password either.
        log = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
    assert password not in log
