"""Debian's nginx terminating mutual TLS and forwarding the client certificate to Propusk's
forward-auth, with the tested example docs/examples/nginx-mtls.conf; the partner uses
openssl and curl only. A certificate header sent to Propusk directly — not by the trusted
proxy — is ignored.

nginx connects to Propusk from 127.0.0.2 (``proxy_bind``) and only that address is a
trusted proxy, so "directly from 127.0.0.1" and "through nginx" differ as they would
across hosts.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.integration.servers import BIN, free_port, need, propusk_env, propusk_server, running
from tests.integration.test_mtls_openssl import ENROL, PRELUDE, SUBJECT, make_server_certificate

pytestmark = pytest.mark.external

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "nginx-mtls.conf"
PASSWORD = "integration pass"
ADMIN = "nginx-ca@example.com"
PROXY_ADDRESS = "127.0.0.2"


def nginx_config(tmp: Path, listen: int, propusk: str, upstream: int) -> Path:
    server = (
        EXAMPLE.read_text()
        .replace("__LISTEN__", f"127.0.0.1:{listen}")
        .replace("__SERVER_CERT__", str(tmp / "server.pem"))
        .replace("__SERVER_KEY__", str(tmp / "server.key"))
        .replace("__PROPUSK_CA__", str(tmp / "propusk-ca.pem"))
        .replace("__PROPUSK__", propusk.removeprefix("http://"))
        .replace("__UPSTREAM__", f"127.0.0.1:{upstream}")
    )
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    proxy_bind {PROXY_ADDRESS};
{server}
}}
"""
    )
    return conf


@dataclass(frozen=True)
class Stack:
    front: str
    front_port: int
    propusk: str
    work: Path
    token: str
    org: str
    app: str

    def partner(self, name: str, body: str) -> dict[str, str]:
        work = self.work / name
        work.mkdir()
        (work / "server-ca.pem").write_bytes((self.work / "server-ca.pem").read_bytes())
        done = subprocess.run(
            ["sh", "-c", PRELUDE + body],
            env={
                "PATH": "/usr/bin:/bin", "WORK": str(work), "SUBJECT": SUBJECT,
                "URL": self.propusk, "FRONT": self.front,
                "TOKEN": self.token, "ORG": self.org, "APP": self.app,
            },
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        return {p.name: p.read_text() for p in sorted(work.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx = need("nginx", "nginx-light")
    need("openssl", "openssl")
    need("curl", "curl")
    tmp = tmp_path_factory.mktemp("nginx-mtls")
    make_server_certificate(tmp)
    data = tmp / "data"
    settings = {
        "PROPUSK_TRUSTED_PROXIES": f"{PROXY_ADDRESS}/32",
        "PROPUSK_CLIENT_CERT_HEADER": "X-SSL-Client-Cert",
    }
    env = propusk_env(data, **settings)
    propusk_cli = str(BIN / "propusk")
    for command in (
        ["init"],
        ["ca", "init"],
        ["admin", "create", "--email", ADMIN, "--password", PASSWORD],
    ):
        done = subprocess.run([propusk_cli, *command], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    upstream, listen = free_port(), free_port()
    with propusk_server(tmp, **settings) as propusk:
        with httpx.Client(base_url=propusk, timeout=10) as http:
            (tmp / "propusk-ca.pem").write_text(http.get("/v1/ca/certificate").text)
            token = http.post(
                "/v1/auth/login", json={"username": ADMIN, "password": PASSWORD}
            ).json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            org = http.post("/v1/orgs", json={"name": "Partner", "kind": "company"}).json()["id"]
            app = http.post(f"/v1/orgs/{org}/apps", json={"name": "Shop"}).json()["id"]
        bare_api = [
            sys.executable, "-m", "uvicorn", "--factory", "propusk.demo.app:create_demo_app",
            "--host", "127.0.0.1", "--port", str(upstream),
        ]  # fmt: skip
        with running(bare_api, f"http://127.0.0.1:{upstream}/health", tmp / "upstream.log"):
            conf = nginx_config(tmp, listen, propusk, upstream)
            check = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
            front = f"https://127.0.0.1:{listen}"
            verify = ssl.create_default_context(cafile=str(tmp / "server-ca.pem"))
            with running(
                [nginx, "-c", str(conf)], f"{front}/demo/health", tmp / "nginx.log", verify=verify
            ):
                yield Stack(front, listen, propusk, tmp, token, org, app)


CALL = r"""
curl -sS --cert my_cert.pem --key private.key --cacert server-ca.pem -o reviews.json \
    -w '%{http_code}' "$FRONT/demo/apps/$APP/reviews" > reviews.status
"""


def enrol(stack: Stack, name: str) -> dict[str, str]:
    # The API (CSR, approval, download) is Propusk's own; nginx fronts the resource API.
    files = stack.partner(name, ENROL + CALL)
    assert files["submit.status"] == "201", files["request.json"]
    assert files["approve.status"] == "200", files["approved.json"]
    return files


def test_certificate_through_nginx_reaches_the_api(stack: Stack) -> None:
    files = enrol(stack, "enrol")
    assert files["reviews.status"] == "200", files["reviews.json"]
    answer = json.loads(files["reviews.json"])
    # The upstream API got Propusk's decision from nginx, in the identity headers.
    assert answer["forwarded"] == {
        "x-propusk-subject": files["serial.txt"],
        "x-propusk-method": "reviews.read",
        "x-propusk-org": stack.org,
        "x-propusk-app": stack.app,
    }


def test_s_client_sees_the_propusk_ca_named(stack: Stack) -> None:
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{stack.front_port}",
         "-CAfile", str(stack.work / "server-ca.pem")],
        input="", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "Acceptable client certificate CA names" in done.stdout, done.stdout
    names = done.stdout.split("Acceptable client certificate CA names", 1)[1]
    assert "Propusk" in names.split("Requested Signature Algorithms")[0]


def test_revoked_certificate_is_refused_through_nginx(stack: Stack) -> None:
    files = enrol(stack, "revoke")
    assert files["reviews.status"] == "200"
    revoked = stack.partner(
        "revoke-after",
        f"cp ../revoke/my_cert.pem ../revoke/private.key .\n"
        f"api POST '/v1/orgs/{stack.org}/certificates/{files['serial.txt']}/revoke' r.json "
        "-H 'Content-Type: application/json' --data '{\"reason\":\"superseded\"}' > r.status\n"
        + CALL,
    )
    assert revoked["r.status"] == "200", revoked["r.json"]
    assert revoked["reviews.status"] == "401"


def test_certificate_of_another_ca_is_refused_by_nginx(stack: Stack) -> None:
    work = stack.work / "stranger"
    work.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for args in (
        ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Other CA"],
        ["req", "-new", *ec, "-keyout", "private.key", "-out", "c.csr", "-subj", "/CN=x"],
        ["x509", "-req", "-in", "c.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "my_cert.pem", "-days", "2"],
    ):  # fmt: skip
        assert subprocess.run(["openssl", *args], cwd=work, capture_output=True).returncode == 0
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cert", "my_cert.pem",
         "--key", "private.key", "--cacert", str(stack.work / "server-ca.pem"),
         f"{stack.front}/demo/apps/{stack.app}/reviews"],
        cwd=work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    # nginx ends the handshake and answers 400 ("The SSL certificate error").
    assert done.stdout == "400", done


def test_spoofed_header_sent_directly_is_ignored(stack: Stack) -> None:
    files = enrol(stack, "spoof")
    assert files["reviews.status"] == "200"
    escaped = quote(files["my_cert.pem"], safe="")
    spoofed = {"X-SSL-Client-Cert": escaped}
    url = f"/demo/apps/{stack.app}/reviews"
    with httpx.Client(base_url=stack.propusk, timeout=10) as direct:
        # Straight to Propusk's guarded demo API from 127.0.0.1: not a trusted proxy.
        assert direct.get(url, headers=spoofed).status_code == 401
        # Its forward-auth too: an allowed forward-auth caller is not thereby a trusted proxy.
        question = {"X-Original-Method": "GET", "X-Original-URI": url, **spoofed}
        assert direct.get("/v1/authorize", headers=question).status_code == 401
    # Through nginx without a client certificate, the client's own header is dropped.
    verify = ssl.create_default_context(cafile=str(stack.work / "server-ca.pem"))
    with httpx.Client(verify=verify, timeout=10) as front:
        assert front.get(f"{stack.front}{url}", headers=spoofed).status_code == 401
    log = (stack.work / "propusk.log").read_text()
    assert "client certificate header x-ssl-client-cert from 127.0.0.1 ignored" in log
