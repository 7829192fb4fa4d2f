"""``propusk ca``, ``propusk csr`` and ``propusk cert`` against a real ``propusk serve``
process: the CA made on the server's database, a key and CSR made locally, the request
approved and fetched over HTTP, and the result checked with ``openssl verify``."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.cli.support import invoke, run, serving
from tests.integration.servers import need

ADMIN = "ca-cli-admin@example.com"
PASSWORD = "ca cli " + "p" * 12
FAST_ARGON2 = {"PROPUSK_ARGON2_TIME_COST": "1", "PROPUSK_ARGON2_MEMORY_KIB": "1024"}


@dataclass(frozen=True)
class Stack:
    url: str
    tmp: Path
    data: Path
    env: dict[str, str]

    def cli(self, *args: str | Path) -> Result:
        return invoke(*args, env={**self.env, "PROPUSK_SERVER": self.url})

    def admin(self, *args: str | Path) -> Result:
        return invoke("--data-dir", self.data, *args, env=FAST_ARGON2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("ca-cli")
    data = tmp / "data"
    env = {"XDG_CONFIG_HOME": str(tmp / "xdg"), "HOME": str(tmp)}
    init = run("--data-dir", data, "init", cwd=tmp, env=FAST_ARGON2)
    assert init.returncode == 0, init.stderr
    made = invoke("--data-dir", data, "ca", "init", "--key-type", "rsa", "--days", "400",
                  "--subject", "/O=Provider/CN=Provider Client CA", env=FAST_ARGON2)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert (
        "RSA-3072 (generated)" in made.output and "/O=Provider/CN=Provider Client CA" in made.output
    )
    with serving(data, cwd=tmp, env=FAST_ARGON2) as url:
        created = invoke("--data-dir", data, "admin", "create", "--email", ADMIN,
                         "--password", PASSWORD, env=FAST_ARGON2)  # fmt: skip
        assert created.exit_code == 0, created.output
        logged = invoke("login", "--server", url, "-u", ADMIN, "--password", PASSWORD, env=env)
        assert logged.exit_code == 0, logged.output
        yield Stack(url, tmp, data, env)


def _org(stack: Stack) -> str:
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        login = http.post("/v1/auth/login", json={"username": ADMIN, "password": PASSWORD})
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        org: str = http.post("/v1/orgs", json={"name": "Partner", "kind": "company"}).json()["id"]
        http.post(f"/v1/orgs/{org}/apps", json={"name": "Shop"})
    return org


def test_ca_init_twice_is_refused_and_show(stack: Stack) -> None:
    again = stack.admin("ca", "init")
    assert again.exit_code == 1 and "already set up" in again.stderr
    shown = stack.admin("ca", "show", "--pem")
    assert shown.exit_code == 0
    ca = x509.load_pem_x509_certificate(shown.stdout.encode())
    assert ca.subject.rfc4514_string() == "CN=Provider Client CA,O=Provider"
    served = httpx.get(f"{stack.url}/v1/ca/certificate").text
    assert served == shown.stdout


def test_csr_files(stack: Stack, tmp_path: Path) -> None:
    made = stack.cli("csr", "--subject", "/C=RU/O=Partner/CN=gw", "--key-type", "ec",
                     "--key-out", tmp_path / "k.pem", "--out", tmp_path / "r.csr")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    request = x509.load_pem_x509_csr((tmp_path / "r.csr").read_bytes())
    assert request.is_signature_valid
    assert request.subject.rfc4514_string() == "CN=gw,O=Partner,C=RU"
    again = stack.cli("csr", "--subject", "/CN=x", "--key-out", tmp_path / "k.pem",
                      "--out", tmp_path / "other.csr")  # fmt: skip
    assert again.exit_code == 1 and "already exists" in again.stderr
    bad = stack.cli("csr", "--subject", "CN=x", "--key-out", tmp_path / "k2.pem",
                    "--out", tmp_path / "r2.csr")  # fmt: skip
    assert bad.exit_code == 1 and "/C=RU/O=Example" in bad.stderr


def test_request_approve_fetch_verify_revoke(stack: Stack, tmp_path: Path) -> None:
    openssl = need("openssl", "openssl")
    org = _org(stack)
    assert stack.cli("csr", "--subject", "/C=RU/O=Partner/CN=gw", "--key-out",
                     tmp_path / "k.pem", "--out", tmp_path / "r.csr").exit_code == 0  # fmt: skip
    requested = stack.cli("cert", "request", "--org", org, "--csr", tmp_path / "r.csr",
                          "--all-apps", "--method", "reviews.read")  # fmt: skip
    assert requested.exit_code == 0, requested.output
    request_id = requested.stdout.strip()
    approved = stack.cli("cert", "approve", request_id, "--days", "30")
    assert approved.exit_code == 0, approved.output
    serial = approved.stdout.strip()
    assert len(serial) == 40
    again = stack.cli("cert", "approve", request_id)
    assert again.exit_code == 1 and "already approved" in again.stderr
    fetched = stack.cli("cert", "fetch", "--org", org, "--serial", serial, "--out",
                        tmp_path / "cert.pem", "--ca-out", tmp_path / "ca.pem")  # fmt: skip
    assert fetched.exit_code == 0, fetched.output
    verified = subprocess.run(
        [openssl, "verify", "-CAfile", "ca.pem", "cert.pem"], cwd=tmp_path, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert verified.returncode == 0 and "cert.pem: OK" in verified.stdout, verified.stderr
    listed = stack.cli("cert", "list", "--org", org)
    assert serial in listed.stdout and "active" in listed.stdout
    revoked = stack.cli("cert", "revoke", "--org", org, "--serial", serial,
                        "--reason", "keyCompromise")  # fmt: skip
    assert revoked.exit_code == 0, revoked.output
    listed = stack.cli("cert", "list", "--org", org, "--status", "revoked")
    assert serial in listed.stdout
    bad = stack.cli("cert", "revoke", "--org", org, "--serial", serial)
    assert bad.exit_code == 1 and "already revoked" in bad.stderr


def test_ca_import_intermediate(tmp_path: Path) -> None:
    """The production setup from docs/certificates.md: an intermediate under an own root."""
    need("openssl", "openssl")
    script = """set -e
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 7300 \
  -subj "/O=Example/CN=Example Root CA" -keyout root.key -out root.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -subj "/O=Example/CN=Example Partner Client CA" -keyout ca.key -out ca.csr
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\\n' > ca.ext
printf 'keyUsage=critical,keyCertSign,cRLSign\\n' >> ca.ext
openssl x509 -req -in ca.csr -CA root.pem -CAkey root.key -CAcreateserial -days 3650 \
  -extfile ca.ext -out ca.pem
cat ca.pem root.pem > ca-chain.pem
"""
    made = subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    data = tmp_path / "data"
    init = run("--data-dir", data, "init", cwd=tmp_path, env=FAST_ARGON2)
    assert init.returncode == 0, init.stderr
    wrong = invoke("--data-dir", data, "ca", "import", "--cert", tmp_path / "ca-chain.pem",
                   "--key", tmp_path / "root.key", env=FAST_ARGON2)  # fmt: skip
    assert wrong.exit_code == 1 and "does not belong" in wrong.stderr
    leaf = invoke("--data-dir", data, "ca", "import", "--cert", tmp_path / "root.pem",
                  "--key", tmp_path / "root.key", env=FAST_ARGON2)  # fmt: skip
    assert leaf.exit_code == 0, leaf.output  # a root is a CA too
    imported = invoke("--data-dir", data, "ca", "import", "--cert", tmp_path / "ca-chain.pem",
                      "--key", tmp_path / "ca.key", "--replace", env=FAST_ARGON2)  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert "EC-P-256 (imported)" in imported.output and "1 issuer certificate" in imported.output
    shown = invoke("--data-dir", data, "ca", "show", "--pem", env=FAST_ARGON2)
    assert shown.stdout == (tmp_path / "ca-chain.pem").read_text()
    # The database holds no clear private key: the CA key is sealed.
    key = serialization.load_pem_private_key((tmp_path / "ca.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    stored = b"".join(p.read_bytes() for p in data.glob("propusk.db*"))  # with the WAL
    assert b"EC-P-256" in stored and scalar not in stored
