"""Debian's nginx in front of an unguarded API, enforcing Propusk through auth_request.

Uses the tested example configuration from docs/examples/nginx-forward-auth.conf.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.integration.servers import BIN, free_port, need, propusk_server, running

pytestmark = pytest.mark.external

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "nginx-forward-auth.conf"
PASSWORD = "integration pass"


def nginx_config(
    tmp: Path, listen: int, propusk: str, upstream: int, *, template: str | None = None
) -> Path:
    """A whole nginx.conf around the example ``server`` block (or ``template``)."""
    server = (
        (EXAMPLE.read_text() if template is None else template)
        .replace("__LISTEN__", f"127.0.0.1:{listen}")
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
{server}
}}
"""
    )
    return conf


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    nginx = need("nginx", "nginx-light")
    tmp = tmp_path_factory.mktemp("nginx")
    upstream = free_port()
    listen = free_port()
    with propusk_server(tmp) as propusk:
        env_args = [str(BIN / "propusk"), "--data-dir", str(tmp / "data")]
        subprocess.run(
            [*env_args, "admin", "create", "--email", "ops@example.com", "--password", PASSWORD],
            check=True,
            capture_output=True,
            env={
                "PROPUSK_ARGON2_TIME_COST": "1",
                "PROPUSK_ARGON2_MEMORY_KIB": "1024",
                "PATH": "/usr/bin:/bin",
            },
        )
        bare_api = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "propusk.demo.app:create_demo_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(upstream),
        ]
        with running(bare_api, f"http://127.0.0.1:{upstream}/health", tmp / "upstream.log"):
            conf = nginx_config(tmp, listen, propusk, upstream)
            check = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
            with running(
                [nginx, "-c", str(conf)],
                f"http://127.0.0.1:{listen}/demo/health",
                tmp / "nginx.log",
            ):
                yield f"http://127.0.0.1:{listen}", propusk


def token(propusk: str) -> str:
    r = httpx.post(
        f"{propusk}/v1/auth/login", json={"username": "ops@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_public_route_through_nginx(stack: tuple[str, str]) -> None:
    front, _ = stack
    assert httpx.get(f"{front}/demo/health").json() == {"status": "ok"}


def test_anonymous_is_401_with_challenge(stack: tuple[str, str]) -> None:
    front, _ = stack
    r = httpx.get(f"{front}/demo/apps/a1")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_bearer_allowed_and_identity_forwarded(stack: tuple[str, str]) -> None:
    front, propusk = stack
    access = token(propusk)
    r = httpx.get(f"{front}/demo/reports", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 200, r.text
    assert r.json()["report"] == "sales"
    subject = jwt.decode(access, options={"verify_signature": False})["sub"]
    assert r.json()["forwarded"] == {
        "x-propusk-subject": subject,
        "x-propusk-method": "reports.read",
    }


def test_forged_token_is_refused(stack: tuple[str, str]) -> None:
    front, propusk = stack
    access = token(propusk)
    forged = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    r = httpx.get(f"{front}/demo/reports", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/demo/apps/a%2Fb/reviews", "/demo/apps/%2e%2e/reports", "/demo/apps/x/..%2freports"],
)
def test_encoded_tricks_do_not_pass(stack: tuple[str, str], path: str) -> None:
    front, propusk = stack
    access = token(propusk)
    # Raw paths: send exactly these bytes (httpx would otherwise normalize some of them).
    with httpx.Client() as http:
        request = http.build_request("GET", front, headers={"Authorization": f"Bearer {access}"})
        request.url = request.url.copy_with(raw_path=path.encode())
        r = http.send(request)
    assert r.status_code == 403
