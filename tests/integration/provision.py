"""Accounts and credentials on a running ``propusk serve``, made as an operator and an
owner make them: ``propusk admin create`` on the command line, the rest over the API."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from tests.integration.servers import BIN
from tests.web.service_key_helpers import load_private, sign, timestamp
from tests.web.signing_key_helpers import public_pem

__all__ = ["cli", "provision", "signed_in"]


def cli(env: Mapping[str, str], *args: str) -> None:
    """``propusk <args>`` with ``env`` (a :func:`~tests.integration.servers.propusk_env`)."""
    done = subprocess.run(
        [str(BIN / "propusk"), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def signed_in(server: str, email: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header of a fresh login."""
    r = httpx.post(
        f"{server}/v1/auth/login", json={"username": email, "password": password}, timeout=10
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def provision(
    server: str, env: Mapping[str, str], *, owner: str, password: str, login: str
) -> dict[str, str]:
    """An administrator ``owner`` (created with the CLI) with an org, an app and one
    credential of each kind: a service key exchanged for a Public-Token (scope
    ``apps.read`` on the app), an API key (``reports.read``) and a partner signing key
    (``payments.topup``, ``login``)."""
    cli(env, "admin", "create", "--email", owner, "--password", password)
    headers = signed_in(server, owner, password)
    with httpx.Client(base_url=server, headers=headers, timeout=10) as http:
        org = http.post("/v1/orgs", json={"name": "Remote", "kind": "company"}).json()["id"]
        app = http.post(f"/v1/orgs/{org}/apps", json={"name": "Shop"}).json()["id"]
        r = http.post(
            f"/v1/orgs/{org}/service-keys",
            json={"name": "ci", "methods": ["apps.read"], "appIds": [app]},
        )
        assert r.status_code == 201, r.text
        service_key, private = r.json()["keyId"], load_private(r.json()["privateKey"])
        ts = timestamp(datetime.now(UTC))
        signature = sign(private, service_key, ts)
        r = httpx.post(
            f"{server}/public/auth/",
            json={"keyId": service_key, "timestamp": ts, "signature": signature},
        )
        assert r.status_code == 200, r.text
        public_token = r.json()["body"]["jwe"]
        r = http.post(
            f"/v1/orgs/{org}/api-keys",
            json={"name": "ak", "methods": ["reports.read"], "appIds": [app]},
        )
        assert r.status_code == 201, r.text
        api_key = r.json()
        r = http.post(
            f"/v1/orgs/{org}/signing-keys",
            json={
                "name": "partner",
                "publicKeyPem": public_pem(),
                "login": login,
                "methods": ["payments.topup"],
                "appIds": [],
            },
        )
        assert r.status_code == 201, r.text
        account = http.get("/v1/user/profile").json()
        return {
            "token": headers["Authorization"].removeprefix("Bearer "),
            "account": account["id"],
            "org": org,
            "app": app,
            "service_key": service_key,
            "public_token": public_token,
            "api_key_id": api_key["keyId"],
            "api_key": api_key["key"],
            "signing_key": r.json()["keyId"],
        }
