"""``propusk api-key`` end to end against a real ``propusk serve`` process: create with a key
file only its owner can read, list (table and JSON), reroll with and without grace, revoke,
and every refusal with a clear message, exit status 1 and no secret printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result

from propusk.core.apikeys import parse_api_key
from tests.cli.support import invoke, mode, run, serving

OWNER, ADMIN, DEVELOPER = "owner-ak@example.com", "admin-ak@example.com", "dev-ak@example.com"
PASSWORD = "api key cli " + "p" * 8
FAST_ARGON2 = {"PROPUSK_ARGON2_TIME_COST": "1", "PROPUSK_ARGON2_MEMORY_KIB": "1024"}


@dataclass(frozen=True)
class Stack:
    url: str
    tmp: Path
    envs: dict[str, dict[str, str]]  # each account's stored login

    def cli(self, *args: str | Path, who: str = OWNER, input: str | None = None) -> Result:
        """``propusk ARGS`` in-process as ``who``, with PROPUSK_SERVER set."""
        return invoke(*args, env={**self.envs[who], "PROPUSK_SERVER": self.url}, input=input)

    @contextmanager
    def http(self) -> Iterator[httpx.Client]:
        """The HTTP API, signed in as the owner (the console's part)."""
        with httpx.Client(base_url=self.url, timeout=10) as http:
            answer = http.post("/v1/auth/login", json={"username": OWNER, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
            yield http

    def server_log(self) -> str:
        return "".join(p.read_text() for p in self.tmp.glob("serve-*.log"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("api-key-cli")
    data = tmp / "data"
    envs = {
        email: {"XDG_CONFIG_HOME": str(tmp / f"xdg-{email}"), "HOME": str(tmp)}
        for email in (OWNER, ADMIN, DEVELOPER)
    }
    init = run("--data-dir", data, "init", cwd=tmp, env=FAST_ARGON2)
    assert init.returncode == 0, init.stderr
    with serving(data, cwd=tmp, env=FAST_ARGON2) as url:
        for email, env in envs.items():
            created = invoke(
                "--data-dir", data, "admin", "create", "--email", email, "--password", PASSWORD,
                env=FAST_ARGON2,
            )  # fmt: skip
            assert created.exit_code == 0, created.output
            logged_in = invoke(
                "login", "--server", url, "-u", email, "--password", PASSWORD, env=env
            )
            assert logged_in.exit_code == 0, logged_in.output
        yield Stack(url, tmp, envs)


@dataclass(frozen=True)
class Org:
    id: str
    apps: list[str]


def new_org(stack: Stack, apps: int = 2, members: dict[str, str] | None = None) -> Org:
    with stack.http() as http:
        org = http.post("/v1/orgs", json={"name": "Studio", "kind": "company"}).json()["id"]
        ids = [
            http.post(f"/v1/orgs/{org}/apps", json={"name": f"App {i}"}).json()["id"]
            for i in range(apps)
        ]
        for email, role in (members or {}).items():
            added = http.post(f"/v1/orgs/{org}/members", json={"email": email, "role": role})
            assert added.status_code == 201, added.text
    return Org(org, ids)


def keys_of(stack: Stack, org: Org) -> list[dict[str, Any]]:
    with stack.http() as http:
        items: list[dict[str, Any]] = http.get(f"/v1/orgs/{org.id}/api-keys").json()["items"]
    return items


def create(stack: Stack, org: Org, *extra: str | Path) -> Result:
    return stack.cli(
        "api-key", "create", "--org", org.id, "--name", "CI", "--app", org.apps[0],
        "--method", "reviews.read", *extra,
    )  # fmt: skip


def read_key(path: Path) -> str:
    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == 1
    key = text.strip()
    assert parse_api_key(key) is not None
    return key


def reviews(stack: Stack, app: str, key: str) -> int:
    return httpx.get(f"{stack.url}/demo/apps/{app}/reviews", headers={"X-API-Key": key}).status_code


def no_secret(result: Result, *keys: str) -> None:
    for text in (result.stdout, result.stderr):
        for key in keys:
            assert key not in text and key.rsplit("_", 1)[1][:16] not in text


# -- create ------------------------------------------------------------------------------------


def test_create_saves_the_key_0600_prints_only_the_id_and_the_key_works(
    stack: Stack, tmp_path: Path
) -> None:
    org = new_org(stack)
    out = tmp_path / "ci.key"
    result = create(stack, org, "--out", out, "--expires", "2099-01-31T00:00:00+03:00")
    assert result.exit_code == 0, result.output
    key = read_key(out)
    assert mode(out) == 0o600
    (listed,) = keys_of(stack, org)
    assert result.stdout == f"{listed['keyId']}\n"
    assert result.stderr == f"API key written to {out} (mode 0600); it is not kept anywhere else\n"
    no_secret(result, key)
    assert key.startswith(f"propusk_{listed['keyId']}_") and listed["last4"] == key[-4:]
    assert listed["apps"] == [org.apps[0]] and listed["methods"] == ["reviews.read"]
    assert listed["expiresAt"].startswith("2099-01-30T21:00:00")
    assert reviews(stack, org.apps[0], key) == 200
    assert reviews(stack, org.apps[1], key) == 403
    assert key.rsplit("_", 1)[1] not in stack.server_log()


def test_print_key_and_all_apps(stack: Stack) -> None:
    org = new_org(stack)
    result = stack.cli(
        "api-key", "create", "--org", org.id, "--name", "all", "--all-apps",
        "--method", "reviews.read", "--method", "reports.read", "--print-key",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    key_id, key = result.stdout.splitlines()
    assert parse_api_key(key) is not None and key.startswith(f"propusk_{key_id}_")
    assert result.stderr == ""
    assert all(reviews(stack, app, key) == 200 for app in org.apps)


def test_create_refuses_to_overwrite_and_makes_no_key(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack)
    taken = tmp_path / "taken.key"
    taken.write_text("precious\n")
    target = tmp_path / "target.key"
    link = tmp_path / "link.key"
    link.symlink_to(target)  # dangling: O_EXCL must not follow it
    for path in (taken, link):
        result = create(stack, org, "--out", path)
        assert result.exit_code == 1
        assert (
            result.stderr
            == f"error: {path} already exists: not overwritten (choose another --out)\n"
        )
    assert taken.read_text() == "precious\n" and not target.exists()
    assert keys_of(stack, org) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "the key is shown only once: give --out FILE to save it (or --print-key to print it)"),
        (("--out", "k", "--method", "nope.nope"), "(HTTP 4"),
        (("--out", "k", "--expires", "2099-01-31T00:00:00"), "--expires needs a time zone"),
        (("--out", "k", "--expires", "soon"), "is not an ISO 8601 time"),
        (("--out", "k", "--expires", "2001-01-01T00:00:00Z"), "expiresAt must be in the future"),
        (("--out", "k", "--all-apps"), "give either --app ID (one or more) or --all-apps"),
    ],
)
def test_create_refusals_are_clear_and_leave_no_file(
    stack: Stack, tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    org = new_org(stack, apps=1)
    result = create(stack, org, *extra)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "k").exists()
    assert keys_of(stack, org) == []


def test_admins_manage_developers_list_and_a_login_is_needed(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack, members={ADMIN: "admin", DEVELOPER: "developer"})
    out = tmp_path / "dev.key"
    args = ["api-key", "create", "--org", org.id, "--name", "CI", "--all-apps"]
    args += ["--method", "reviews.read", "--out", str(out)]

    as_developer = stack.cli(*args, who=DEVELOPER)
    assert as_developer.exit_code == 1
    assert as_developer.stderr == (
        "error: Your role in this organization does not allow this (HTTP 403)\n"
    )
    assert not out.exists()

    as_admin = stack.cli(*args, who=ADMIN)
    assert as_admin.exit_code == 0, as_admin.output
    key_id = as_admin.stdout.strip()
    listed = stack.cli("api-key", "list", "--org", org.id, "--json", who=DEVELOPER)
    assert listed.exit_code == 0, listed.output
    assert [k["keyId"] for k in json.loads(listed.stdout)] == [key_id]
    revoked = stack.cli("api-key", "revoke", "--org", org.id, "--key-id", key_id, "--yes",
                        who=DEVELOPER)  # fmt: skip
    assert revoked.exit_code == 1 and "(HTTP 403)" in revoked.stderr

    out.unlink()
    nobody = invoke(
        *args, env={"XDG_CONFIG_HOME": str(tmp_path / "empty"), "PROPUSK_SERVER": stack.url}
    )
    assert nobody.exit_code == 1
    assert nobody.stderr == (
        f"error: not logged in to {stack.url}: run `propusk login --server {stack.url}`\n"
    )
    assert not out.exists()


# -- list --------------------------------------------------------------------------------------


def test_list_shows_a_table_without_secrets(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack)
    empty = stack.cli("api-key", "list", "--org", org.id)
    assert empty.exit_code == 0 and empty.stdout == "no API keys\n"

    out = tmp_path / "used.key"
    assert create(stack, org, "--out", out).exit_code == 0
    key = read_key(out)
    assert reviews(stack, org.apps[0], key) == 200  # lastUsedAt: shown at once by the API
    (item,) = keys_of(stack, org)

    table = stack.cli("api-key", "list", "--org", org.id)
    assert table.exit_code == 0, table.output
    no_secret(table, key)
    header, row = table.stdout.splitlines()
    assert header.split() == [
        "Name", "Key", "ID", "Key", "Methods", "Apps", "Expires", "Last", "used", "Status"
    ]  # fmt: skip
    assert row.split()[:5] == [
        "CI", item["keyId"], f"propusk_{item['keyId']}_…{key[-4:]}", "reviews.read", org.apps[0]
    ]  # fmt: skip
    assert row.split()[5] == "never" and row.split()[6] != "never"  # expires, last used
    assert row.split()[-1] == "active"

    as_json = stack.cli("api-key", "list", "--org", org.id, "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == keys_of(stack, org)
    no_secret(as_json, key)

    other = stack.cli("api-key", "list", "--org", "no-such-org")
    assert other.exit_code == 1
    assert other.stderr.startswith("error: ") and "(HTTP 404)" in other.stderr


# -- reroll and revoke ------------------------------------------------------------------------


def test_reroll_with_and_without_grace(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack, apps=1)
    first = tmp_path / "first.key"
    result = create(stack, org, "--out", first)
    key_id = result.stdout.strip()
    old = read_key(first)
    args = ("api-key", "reroll", "--org", org.id, "--key-id", key_id)

    taken = stack.cli(*args, "--out", first)
    assert taken.exit_code == 1 and "already exists: not overwritten" in taken.stderr
    assert read_key(first) == old and reviews(stack, org.apps[0], old) == 200

    second = tmp_path / "second.key"
    graced = stack.cli(*args, "--grace", "300", "--out", second)
    assert graced.exit_code == 0, graced.output
    assert graced.stdout == f"{key_id}\n" and mode(second) == 0o600
    assert "the old key works for 300 more seconds" in graced.stderr
    new = read_key(second)
    assert new != old and new.startswith(f"propusk_{key_id}_")
    no_secret(graced, old, new)
    assert reviews(stack, org.apps[0], old) == 200 and reviews(stack, org.apps[0], new) == 200

    printed = stack.cli(*args, "--print-key")
    assert printed.exit_code == 0, printed.output
    assert printed.stderr == "the old key no longer works\n"
    newest = printed.stdout.splitlines()[1]
    assert reviews(stack, org.apps[0], new) == 401
    assert reviews(stack, org.apps[0], newest) == 200

    too_long = stack.cli(*args, "--grace", str(7 * 86400 + 1), "--print-key")
    assert too_long.exit_code == 2  # click's usage error


def test_revoke_asks_then_refuses_the_key(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack, apps=1)
    out = tmp_path / "doomed.key"
    key_id = create(stack, org, "--out", out).stdout.strip()
    key = read_key(out)
    args = ("api-key", "revoke", "--org", org.id, "--key-id", key_id)

    declined = stack.cli(*args, input="n\n")
    assert declined.exit_code == 1
    assert f"Revoke API key 'CI' ({key_id})?" in declined.stderr
    assert "error: not revoked (confirm, or pass --yes)" in declined.stderr
    assert reviews(stack, org.apps[0], key) == 200

    revoked = stack.cli(*args, "--yes")
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout == f"revoked API key {key_id}\n"
    assert reviews(stack, org.apps[0], key) == 401
    assert keys_of(stack, org)[0]["status"] == "revoked"

    refused = stack.cli("api-key", "reroll", "--org", org.id, "--key-id", key_id, "--print-key")
    assert refused.exit_code == 1
    assert refused.stderr == "error: a revoked key cannot be rerolled (HTTP 400)\n"
    assert refused.stdout == ""

    unknown = stack.cli("api-key", "revoke", "--org", org.id, "--key-id", "0" * 16, "--yes")
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: No such API key (HTTP 404)\n"
