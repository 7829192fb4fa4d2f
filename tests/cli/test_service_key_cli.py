"""``propusk service-key`` end to end against a real ``propusk serve`` process: create with a
private-key file only its owner can read, list, token (PEM, Base64 DER, stdin), rotate,
delete, and every refusal with a clear message, exit status 1 and no secret printed."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.cli.support import (
    PROPUSK,
    _outside_propusk_env,
    free_port,
    invoke,
    mode,
    run,
    serving,
)

OWNER, DEVELOPER = "owner-sk@example.com", "dev-sk@example.com"
PASSWORD = "service key cli " + "p" * 8
FAST_ARGON2 = {"PROPUSK_ARGON2_TIME_COST": "1", "PROPUSK_ARGON2_MEMORY_KIB": "1024"}


@dataclass(frozen=True)
class Stack:
    url: str
    tmp: Path
    data: Path
    env: dict[str, str]  # the owner's stored login
    developer_env: dict[str, str]  # another account's stored login

    def cli(self, *args: str | Path, input: str | bytes | None = None, **env: str) -> Result:
        """``propusk ARGS`` in-process, as the owner, with PROPUSK_SERVER set."""
        return invoke(
            *args,
            env={**self.env, "PROPUSK_SERVER": self.url, **env},
            input=input,  # type: ignore[arg-type]
        )

    @contextmanager
    def http(self, email: str = OWNER) -> Iterator[httpx.Client]:
        """The HTTP API, signed in as ``email`` (the console's part)."""
        with httpx.Client(base_url=self.url, timeout=10) as http:
            answer = http.post("/v1/auth/login", json={"username": email, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
            yield http

    def server_log(self) -> str:
        return "".join(p.read_text() for p in self.tmp.glob("serve-*.log"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("service-key-cli")
    data = tmp / "data"
    owner_env = {"XDG_CONFIG_HOME": str(tmp / "xdg-owner"), "HOME": str(tmp)}
    developer_env = {"XDG_CONFIG_HOME": str(tmp / "xdg-dev"), "HOME": str(tmp)}
    init = run("--data-dir", data, "init", cwd=tmp, env=FAST_ARGON2)
    assert init.returncode == 0, init.stderr
    with serving(data, cwd=tmp, env=FAST_ARGON2) as url:
        for email, env in ((OWNER, owner_env), (DEVELOPER, developer_env)):
            created = invoke(
                "--data-dir", data, "admin", "create", "--email", email, "--password", PASSWORD,
                env=FAST_ARGON2,
            )  # fmt: skip
            assert created.exit_code == 0, created.output
            logged_in = invoke(
                "login", "--server", url, "-u", email, "--password", PASSWORD, env=env
            )
            assert logged_in.exit_code == 0, logged_in.output
        yield Stack(url, tmp, data, owner_env, developer_env)


@dataclass(frozen=True)
class Org:
    id: str
    apps: list[str]


def new_org(stack: Stack, apps: int = 2) -> Org:
    with stack.http() as http:
        org = http.post("/v1/orgs", json={"name": "Studio", "kind": "company"}).json()["id"]
        ids = [
            http.post(f"/v1/orgs/{org}/apps", json={"name": f"App {i}"}).json()["id"]
            for i in range(apps)
        ]
    return Org(org, ids)


def keys_of(stack: Stack, org: Org) -> list[dict[str, Any]]:
    with stack.http() as http:
        items: list[dict[str, Any]] = http.get(f"/v1/orgs/{org.id}/service-keys").json()["items"]
    return items


def create(stack: Stack, org: Org, out: Path, *extra: str) -> str:
    result = stack.cli(
        "service-key", "create", "--org", org.id, "--name", "CI", "--app", org.apps[0],
        "--method", "reviews.read", "--out", out, *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[0]


def token(stack: Stack, key_id: str, key_file: str | Path, input: bytes | None = None) -> Result:
    return stack.cli(
        "service-key", "token", "--key-id", key_id, "--private-key", key_file, input=input
    )


def reviews(stack: Stack, app: str, jwe: str) -> int:
    r = httpx.get(f"{stack.url}/demo/apps/{app}/reviews", headers={"Public-Token": jwe})
    return r.status_code


def no_secret(result: Result, *secrets: str) -> None:
    for text in (result.stdout, result.stderr):
        assert "PRIVATE KEY" not in text
        for secret in secrets:
            assert secret not in text


# -- create and token -----------------------------------------------------------------------


def test_create_saves_the_private_key_0600_prints_only_the_id_and_the_key_works(
    stack: Stack, tmp_path: Path
) -> None:
    org = new_org(stack)
    out = tmp_path / "ci-key.pem"

    result = stack.cli(
        "service-key", "create", "--org", org.id, "--name", "CI deploys", "--app", org.apps[0],
        "--method", "reviews.read", "--method", "reviews.reply", "--out", out,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    [key] = keys_of(stack, org)
    assert result.stdout == f"{key['keyId']}\n"
    assert f"private key written to {out} (mode 0600)" in result.stderr
    assert mode(out) == 0o600
    pem = out.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key["publicKeyPem"] == public_pem.decode()
    assert (key["name"], key["apps"], key["methods"]) == (
        "CI deploys",
        [org.apps[0]],
        ["reviews.read", "reviews.reply"],
    )
    body = b"".join(pem.splitlines()[1:-1]).decode()
    no_secret(result, body[:40])

    got = token(stack, key["keyId"], out)
    assert got.exit_code == 0, got.output
    jwe = got.stdout.strip()
    assert got.stdout == f"{jwe}\n" and got.stderr == ""
    assert jwe.count(".") == 4  # compact JWE
    assert reviews(stack, org.apps[0], jwe) == 200
    assert reviews(stack, org.apps[1], jwe) == 403
    assert body[:40] not in stack.server_log()


def test_print_private_key_and_every_key_file_format(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack, apps=1)

    result = stack.cli(
        "service-key", "create", "--org", org.id, "--name", "printed", "--all-apps",
        "--method", "reviews.read", "--print-private-key",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    key_id, *pem_lines = result.stdout.splitlines()
    pem = "\n".join(pem_lines) + "\n"
    assert pem_lines[0] == "-----BEGIN PRIVATE KEY-----"
    assert pem_lines[-1] == "-----END PRIVATE KEY-----"
    assert keys_of(stack, org)[0]["apps"] == org.apps  # --all-apps: the apps of now
    assert list(tmp_path.iterdir()) == []  # no file unless asked

    private = serialization.load_pem_private_key(pem.encode(), password=None)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    console_text = base64.b64encode(der).decode()  # what the console's privateKey holds
    (tmp_path / "key.pem").write_text(pem)
    (tmp_path / "key.b64").write_text(console_text + "\n")
    for key_file, stdin in (
        (tmp_path / "key.pem", None),
        (tmp_path / "key.b64", None),
        ("-", pem.encode()),
        ("-", console_text.encode()),
    ):
        got = token(stack, key_id, key_file, input=stdin)
        assert got.exit_code == 0, (key_file, got.output)
        assert reviews(stack, org.apps[0], got.stdout.strip()) == 200


def test_create_refuses_to_overwrite_and_makes_no_key(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack)
    existing = tmp_path / "existing.pem"
    existing.write_text("keep me")
    dangling = tmp_path / "link.pem"
    dangling.symlink_to(tmp_path / "elsewhere.pem")

    for out in (existing, dangling):
        result = stack.cli(
            "service-key", "create", "--org", org.id, "--name", "CI", "--app", org.apps[0],
            "--method", "reviews.read", "--out", out,
        )  # fmt: skip
        assert result.exit_code == 1
        assert result.stderr == (
            f"error: {out} already exists: not overwritten (choose another --out)\n"
        )
        assert result.stdout == ""
    assert existing.read_text() == "keep me"
    assert not (tmp_path / "elsewhere.pem").exists()
    assert keys_of(stack, org) == []


def test_create_without_a_place_for_the_private_key_refuses_first(
    stack: Stack, tmp_path: Path
) -> None:
    org = new_org(stack)
    result = stack.cli(
        "service-key", "create", "--org", org.id, "--name", "CI", "--app", org.apps[0],
        "--method", "reviews.read",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "the private key is shown only once: give --out FILE" in result.stderr
    assert keys_of(stack, org) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "reviews.read"], "give either --app ID (one or more) or --all-apps"),
        (
            ["--all-apps", "--app", "APP", "--method", "reviews.read"],
            "give either --app ID (one or more) or --all-apps",
        ),
        (["--all-apps"], "give at least one --method"),
        (["--all-apps", "--method", "no.such.method"], "unknown methods: no.such.method"),
        (["--app", "not-an-app", "--method", "reviews.read"], "appIds must be apps of this"),
    ],
    ids=["no-apps", "both", "no-methods", "unknown-method", "foreign-app"],
)
def test_create_refusals_are_clear_and_leave_no_file(
    stack: Stack, tmp_path: Path, args: list[str], message: str
) -> None:
    org = new_org(stack, apps=1)
    out = tmp_path / "key.pem"
    result = stack.cli(
        "service-key", "create", "--org", org.id, "--name", "CI", *args, "--out", out
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stdout == ""
    assert not out.exists()
    assert keys_of(stack, org) == []


def test_management_needs_an_owner_and_a_login(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack)
    with stack.http() as http:
        added = http.post(
            f"/v1/orgs/{org.id}/members", json={"email": DEVELOPER, "role": "developer"}
        )
        assert added.status_code == 201, added.text
    out = tmp_path / "key.pem"
    args = ["service-key", "create", "--org", org.id, "--name", "CI", "--all-apps"]
    args += ["--method", "reviews.read", "--out", str(out)]

    as_developer = invoke(*args, env={**stack.developer_env, "PROPUSK_SERVER": stack.url})
    assert as_developer.exit_code == 1
    assert as_developer.stderr == (
        "error: Your role in this organization does not allow this (HTTP 403)\n"
    )
    assert not out.exists()
    # Members may list.
    listed = invoke(
        "service-key", "list", "--org", org.id, "--json",
        env={**stack.developer_env, "PROPUSK_SERVER": stack.url},
    )  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []

    nobody = stack.cli(*args, XDG_CONFIG_HOME=str(tmp_path / "empty"))
    assert nobody.exit_code == 1
    assert nobody.stderr == (
        f"error: not logged in to {stack.url}: run `propusk login --server {stack.url}`\n"
    )
    assert not out.exists()


# -- token refusals --------------------------------------------------------------------------


def test_token_refusals(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack, apps=1)
    out = tmp_path / "key.pem"
    key_id = create(stack, org, out)

    junk = tmp_path / "junk.txt"
    junk.write_text("hunter2-not-a-key\n")
    bad = token(stack, key_id, junk)
    assert bad.exit_code == 1
    assert bad.stderr == f"error: {junk}: the private key is neither PEM nor Base64 DER\n"
    assert "hunter2" not in bad.output

    unknown = token(stack, "no-such-key", out)
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        "error: the exchange was refused: The key or the signature is not valid (HTTP 401)\n"
    )
    assert unknown.stdout == ""

    missing = token(stack, key_id, tmp_path / "missing.pem")
    assert missing.exit_code == 2  # click: the file does not exist
    assert "missing.pem" in missing.stderr

    gone = f"http://127.0.0.1:{free_port()}"
    unreachable = stack.cli(
        "service-key", "token", "--key-id", key_id, "--private-key", out, "--server", gone
    )
    assert unreachable.exit_code == 1
    assert unreachable.stderr.startswith(f"error: cannot reach {gone}")


# -- list, rotate, delete --------------------------------------------------------------------


def test_list_shows_a_table_of_keys(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack)
    used = create(stack, org, tmp_path / "a.pem")
    unused = create(stack, org, tmp_path / "b.pem", "--app", org.apps[1], "--name", "Reports")
    assert token(stack, used, tmp_path / "a.pem").exit_code == 0

    result = stack.cli("service-key", "list", "--org", org.id)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = ["Name", "Key ID", "Status", "Methods", "Apps", "Modified", "Last used"]
    assert lines[0].split() == " ".join(header).split()
    # A row's first line has every column; further lines continue multi-value cells.
    rows = {parts[1]: line for line in lines[1:] if len(parts := line.split()) > 2}
    assert set(rows) >= {used, unused}  # whole key IDs, never wrapped
    assert rows[used].split()[0] == "CI"
    assert "reviews.read" in rows[used] and org.apps[0] in rows[used]
    assert rows[used].rstrip().endswith(" UTC")  # last used: a date
    assert rows[unused].rstrip().endswith(" never")
    assert "PRIVATE" not in result.output and "BEGIN" not in result.output

    as_json = stack.cli("service-key", "list", "--org", org.id, "--json")
    items = json.loads(as_json.stdout)
    assert [i["keyId"] for i in items] == [used, unused]
    assert items[1]["apps"] == sorted({org.apps[0], org.apps[1]})

    empty = stack.cli("service-key", "list", "--org", new_org(stack, apps=0).id)
    assert empty.stdout == "no service keys\n"

    other = stack.cli("service-key", "list", "--org", "00000000-0000-0000-0000-000000000000")
    assert other.exit_code == 1
    assert other.stderr.startswith("error: ") and "(HTTP 404)" in other.stderr


def test_rotate_with_and_without_grace(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack, apps=1)
    old = tmp_path / "old.pem"
    key_id = create(stack, org, old)
    rotate = ["service-key", "rotate", "--org", org.id, "--key-id", key_id]

    taken = stack.cli(*rotate, "--out", old)
    assert taken.exit_code == 1
    assert "already exists: not overwritten" in taken.stderr

    graced = stack.cli(*rotate, "--grace", "300", "--out", tmp_path / "new.pem")
    assert graced.exit_code == 0, graced.output
    assert graced.stdout == f"{key_id}\n"
    assert "the old private key works for 300 more seconds" in graced.stderr
    assert mode(tmp_path / "new.pem") == 0o600
    no_secret(graced)
    for key_file in (old, tmp_path / "new.pem"):
        got = token(stack, key_id, key_file)
        assert got.exit_code == 0, got.output
        assert reviews(stack, org.apps[0], got.stdout.strip()) == 200

    at_once = stack.cli(*rotate, "--out", tmp_path / "newest.pem")
    assert at_once.exit_code == 0, at_once.output
    assert "the old private key no longer works" in at_once.stderr
    for key_file, code in ((old, 1), (tmp_path / "new.pem", 1), (tmp_path / "newest.pem", 0)):
        assert token(stack, key_id, key_file).exit_code == code, key_file

    too_long = stack.cli(*rotate, "--grace", str(8 * 86400), "--out", tmp_path / "x.pem")
    assert too_long.exit_code == 2  # click's range check
    assert not (tmp_path / "x.pem").exists()

    unknown = stack.cli(
        "service-key", "rotate", "--org", org.id, "--key-id", "nope", "--out", tmp_path / "y.pem"
    )
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: No such service key (HTTP 404)\n"
    assert not (tmp_path / "y.pem").exists()


def test_delete_asks_unless_yes(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack, apps=1)
    key_id = create(stack, org, tmp_path / "k.pem")
    jwe = token(stack, key_id, tmp_path / "k.pem").stdout.strip()
    delete = ["service-key", "delete", "--org", org.id, "--key-id", key_id]

    for answer in ("n\n", "", "\n"):
        declined = stack.cli(*delete, input=answer)
        assert declined.exit_code == 1, answer
        assert f"Delete service key 'CI' ({key_id})?" in declined.stderr
        assert declined.stderr.endswith("error: not deleted (confirm, or pass --yes)\n")
        assert declined.stdout == ""
    assert [k["keyId"] for k in keys_of(stack, org)] == [key_id]

    confirmed = stack.cli(*delete, input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert confirmed.stdout == f"deleted service key {key_id}\n"
    assert keys_of(stack, org) == []
    assert reviews(stack, org.apps[0], jwe) == 401

    again = stack.cli(*delete, "--yes")
    assert again.exit_code == 1
    assert again.stderr == "error: No such service key (HTTP 404)\n"

    other = create(stack, org, tmp_path / "o.pem")
    forced = stack.cli("service-key", "delete", "--org", org.id, "--key-id", other, "--yes")
    assert forced.exit_code == 0, forced.output
    assert keys_of(stack, org) == []


# -- as real processes ------------------------------------------------------------------------


def test_real_processes_create_and_token_from_stdin(stack: Stack, tmp_path: Path) -> None:
    org = new_org(stack, apps=1)
    out = tmp_path / "real.pem"
    env = {**stack.env, "PROPUSK_SERVER": stack.url}
    # A permissive umask must not loosen the key file.
    created = subprocess.run(
        [
            "sh", "-c", 'umask 000 && exec "$@"', "sh", str(PROPUSK), "service-key", "create",
            "--org", org.id, "--name", "real", "--app", org.apps[0], "--method", "reviews.read",
            "--out", str(out),
        ],
        cwd=tmp_path, env={**_outside_propusk_env(), **env}, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key_id = created.stdout.strip()
    assert mode(out) == 0o600
    assert "PRIVATE KEY" not in created.stdout + created.stderr

    got = subprocess.run(
        [str(PROPUSK), "service-key", "token", "--key-id", key_id, "--private-key", "-"],
        input=out.read_text(), cwd=tmp_path, env={**_outside_propusk_env(), **env},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert reviews(stack, org.apps[0], got.stdout.strip()) == 200

    listed = run("service-key", "list", "--org", org.id, cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout
