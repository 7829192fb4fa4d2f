"""``propusk serve`` TLS options: refusals before listening, and direct TLS without a CA yet.

Run as child processes: a refusal that regressed would otherwise block the test run.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.cli.support import PROPUSK, run
from tests.integration.servers import free_port, propusk_env, running
from tests.mtls_support import issue, make_ca


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert run("--data-dir", data, "init", cwd=tmp_path).returncode == 0
    return data


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "x.pem"], "needs both --tls-cert and --tls-key"),
        (["--tls-key", "x.key"], "needs both --tls-cert and --tls-key"),
        (["--tls-client-ca", "ca.pem"], "need --tls-cert and --tls-key"),
        (["--tls-client-cert-required"], "need --tls-cert and --tls-key"),
    ],
)
def test_incomplete_tls_options_are_refused(
    tmp_path: Path, data_dir: Path, args: list[str], message: str
) -> None:
    result = run("--data-dir", data_dir, "serve", *args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout


def test_unreadable_files_and_required_without_ca_are_refused(
    tmp_path: Path, data_dir: Path
) -> None:
    server = issue(make_ca(), "localhost", usage=ExtendedKeyUsageOID.SERVER_AUTH)
    cert, key = server.write(tmp_path, "server")
    tls: list[str | Path] = ["--tls-cert", cert, "--tls-key", key]
    missing = run("--data-dir", data_dir, "serve", *tls, "--tls-client-ca", "nope.pem",
                  cwd=tmp_path)  # fmt: skip
    assert missing.returncode != 0 and "tls_client_ca: cannot read nope.pem" in missing.stderr
    required = run("--data-dir", data_dir, "serve", *tls, "--tls-client-cert-required",
                   cwd=tmp_path)  # fmt: skip
    assert required.returncode != 0
    assert "client certificates are required but no CA is configured" in required.stderr
    wrong_key = issue(make_ca(), "other").write(tmp_path, "other")[1]
    bad = run("--data-dir", data_dir, "serve", "--tls-cert", cert, "--tls-key", wrong_key,
              cwd=tmp_path)  # fmt: skip
    assert bad.returncode != 0 and "cannot set up TLS" in bad.stderr


def test_tls_without_a_propusk_ca_serves_https_without_asking_for_certificates(
    tmp_path: Path, data_dir: Path
) -> None:
    server_ca = make_ca("Server CA")
    server = issue(server_ca, "localhost", usage=ExtendedKeyUsageOID.SERVER_AUTH, dns="localhost")
    cert, key = server.write(tmp_path, "server")
    ca_file = server_ca.write(tmp_path, "server-ca")[0]
    port = free_port()
    verify = ssl.create_default_context(cafile=str(ca_file))
    args = [str(PROPUSK), "--data-dir", str(data_dir), "serve", "--port", str(port),
            "--tls-cert", str(cert), "--tls-key", str(key)]  # fmt: skip
    url = f"https://localhost:{port}"
    log = tmp_path / "serve.log"
    with running(args, f"{url}/status", log, propusk_env(data_dir), verify=verify):
        assert httpx.get(f"{url}/status", verify=verify).status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://localhost:{port}/status")  # plain HTTP is not served
    assert "no Propusk CA yet" in log.read_text()
    assert not (data_dir / "propusk-ca.pem").exists()


def test_service_key_token_tls_options_go_together(tmp_path: Path) -> None:
    key = tmp_path / "service.key"
    key.write_text("not read: the TLS options are refused first")
    cert, _ = issue(make_ca(), "partner").write(tmp_path, "partner")
    result = run("service-key", "token", "--key-id", "k", "--private-key", key, "--cert", cert,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode != 0
    assert "--cert and --key go together" in result.stderr + result.stdout
