"""Credentials and request kinds for the fault tests (test_faults.py): one of every
credential Propusk issues, made through the real server, and the requests a client sends
with them — to the server's own API, to forward-auth and to the guarded demo API, in
every dialect (tests/integration/fault_catalog.toml)."""

from __future__ import annotations

import itertools
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.fault_load import Kind
from tests.integration.servers import BIN, propusk_env
from tests.web.service_key_helpers import load_private, sign, timestamp
from tests.web.signing_key_helpers import TOPUP, public_pem, signed, xml_body

__all__ = ["World", "kinds", "provision"]

OWNER = "faults@example.com"
PASSWORD = "integration pass"
CLIENTS = 4  # the load's client threads, each with a refresh token of its own
PARTNER_LOGIN = "shop-faults"

Send = Callable[[httpx.Client, int], httpx.Response]
Normal = Callable[[httpx.Response], bool]


@dataclass
class World:
    url: str
    bearer: str
    refresh: list[str]  # one per client thread; each rotation replaces its own
    app: str
    service_key: str
    service_private: rsa.RSAPrivateKey
    public_token: str
    api_key: str
    counter: Callable[[], int] = field(default_factory=lambda: itertools.count().__next__)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_ms: int = 0

    def unique(self) -> int:
        with self.lock:
            return self.counter()

    def stamp(self) -> datetime:
        """Now, to the millisecond, and never the same twice: each exchange signature
        (over keyId + timestamp) may be used once."""
        with self.lock:
            now_ms = int(datetime.now(UTC).timestamp() * 1000)
            self.last_ms = max(now_ms, self.last_ms + 1)
            return datetime.fromtimestamp(self.last_ms / 1000, UTC)


def _cli(data: Path, env: Mapping[str, str], *args: str) -> None:
    done = subprocess.run(
        [str(BIN / "propusk"), "--data-dir", str(data), *args],
        env=propusk_env(data, **env),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def _ok(r: httpx.Response, status: int = 200) -> dict[str, object]:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, dict)
    return body


def provision(url: str, data: Path, env: Mapping[str, str]) -> World:
    """An admin account (Bearer), an org with an app, a service key exchanged for a
    Public-Token, a managed API key and a signing key with a replay window."""
    _cli(data, env, "admin", "create", "--email", OWNER, "--password", PASSWORD)
    with httpx.Client(base_url=url, timeout=30) as http:
        login = {"username": OWNER, "password": PASSWORD}
        pairs = [_ok(http.post("/v1/auth/login", json=login)) for _ in range(CLIENTS)]
        bearer = str(pairs[0]["access_token"])
        http.headers["Authorization"] = f"Bearer {bearer}"
        org = _ok(http.post("/v1/orgs", json={"name": "Faults", "kind": "company"}), 201)["id"]
        app = str(_ok(http.post(f"/v1/orgs/{org}/apps", json={"name": "Shop"}), 201)["id"])
        made = _ok(
            http.post(
                f"/v1/orgs/{org}/service-keys",
                json={
                    "name": "ci",
                    "methods": ["reviews.read", "payments.topup"],
                    "appIds": [app],
                },
            ),
            201,
        )
        key_id, private = str(made["keyId"]), load_private(str(made["privateKey"]))
        api_key = _ok(
            http.post(
                f"/v1/orgs/{org}/api-keys",
                json={"name": "ak", "methods": ["apps.read", "reports.read"], "appIds": [app]},
            ),
            201,
        )
        _ok(
            http.post(
                f"/v1/orgs/{org}/signing-keys",
                json={
                    "name": "partner",
                    "publicKeyPem": public_pem(),
                    "login": PARTNER_LOGIN,
                    "methods": ["payments.topup", "reports.read"],
                    "appIds": [],
                    "replayWindow": 300,
                },
            ),
            201,
        )
    world = World(
        url=url,
        bearer=bearer,
        refresh=[str(p["refresh_token"]) for p in pairs],
        app=app,
        service_key=key_id,
        service_private=private,
        public_token="",
        api_key=str(api_key["key"]),
    )
    with httpx.Client(base_url=url, timeout=30) as http:
        exchanged = _ok(_exchange(world)(http, 0))
    body = exchanged["body"]
    assert isinstance(body, dict)
    world.public_token = str(body["jwe"])
    return world


def _exchange(world: World) -> Send:
    def send(http: httpx.Client, _: int) -> httpx.Response:
        # A timestamp of its own per request: each signature may be used once.
        ts = timestamp(world.stamp())
        signature = sign(world.service_private, world.service_key, ts)
        payload = {"keyId": world.service_key, "timestamp": ts, "signature": signature}
        return http.post("/public/auth/", json=payload)

    return send


def _refresh(world: World) -> Send:
    def send(http: httpx.Client, client: int) -> httpx.Response:
        r = http.post("/v1/auth/refresh", json={"token": world.refresh[client]})
        if r.status_code == 200:
            world.refresh[client] = r.json()["refresh_token"]  # the next one in the family
        return r

    return send


def _signed(world: World, verb: str, path: str) -> Send:
    def send(http: httpx.Client, _: int) -> httpx.Response:
        # A body of its own per request: the replay window refuses a repeated one.
        body = xml_body(terminal="30003", extra=f"<txn>{world.unique()}</txn>")
        headers = signed(body, X_Digital_Sign_Login=PARTNER_LOGIN)
        return http.request(verb, path, content=body, headers=headers)

    return send


def _status(code: int) -> Normal:
    return lambda r: r.status_code == code


def _json_has(key: str) -> Normal:
    return lambda r: r.status_code == 200 and key in r.json()


def _envelope_ok(r: httpx.Response) -> bool:
    return r.status_code == 200 and r.json()["code"] == "OK"


def _exists(r: httpx.Response) -> bool:
    return r.status_code == 200 and r.json() == {"exist": True}


def _report(r: httpx.Response) -> bool:
    return r.status_code == 200 and r.json().get("report") == "sales"


def _xml_ok(r: httpx.Response) -> bool:
    return r.status_code == 200 and b">0</result-code>" in r.content


def _get(path: str, headers: Mapping[str, str]) -> Send:
    return lambda http, _: http.get(path, headers=dict(headers))


def _authorize(uri: str, headers: Mapping[str, str], verb: str = "GET") -> Send:
    """Forward-auth, asked as nginx asks (the original verb and URI in headers)."""
    asked = {"X-Original-Method": verb, "X-Original-URI": uri, **headers}
    return lambda http, _: http.get("/v1/authorize", headers=asked)


def _login(http: httpx.Client, _: int) -> httpx.Response:
    return http.post("/v1/auth/login", json={"username": OWNER, "password": PASSWORD})


def _lookup(http: httpx.Client, _: int) -> httpx.Response:
    return http.get("/v1/user/address/exists", params={"email": OWNER})


def kinds(world: World) -> list[Kind]:
    """Every kind of request of the load, with its normal answer and its dialect."""
    bearer = {"Authorization": f"Bearer {world.bearer}"}
    token = {"Public-Token": world.public_token}
    api_key = {"X-API-Key": world.api_key}
    reviews, card = f"/demo/apps/{world.app}/reviews", f"/demo/apps/{world.app}"
    allowed = _json_has("allowed")
    return [
        Kind("login", _login, _json_has("access_token"), "propusk"),
        Kind("refresh", _refresh(world), _json_has("access_token"), "propusk"),
        Kind("exchange", _exchange(world), _envelope_ok, "rustore"),
        Kind("profile", _get("/v1/user/profile", bearer), _json_has("login"), "propusk"),
        Kind("address-exists", _lookup, _exists, "propusk"),
        Kind("fa-bearer", _authorize("/demo/reports", bearer), allowed, "waves"),
        Kind("fa-public-token", _authorize(reviews, token), allowed, "rustore"),
        Kind("fa-api-key", _authorize(card, api_key), allowed, "propusk"),
        Kind("mw-bearer", _get("/demo/reports", bearer), _json_has("report"), "waves"),
        Kind("mw-public-token", _get(reviews, token), _json_has("reviews"), "rustore"),
        Kind("mw-api-key", _get(card, api_key), _json_has("app"), "propusk"),
        Kind("mw-signed", _signed(world, "POST", TOPUP), _xml_ok, "qiwi-xml"),
        # The same credentials on routes of the other dialects.
        Kind("fa-waves-api-key", _authorize("/demo/reports", api_key), allowed, "waves"),
        Kind("fa-qiwi-public-token", _authorize(TOPUP, token, "POST"), allowed, "qiwi-xml"),
        Kind("mw-waves-api-key", _get("/demo/reports", api_key), _json_has("report"), "waves"),
        Kind("mw-waves-signed", _signed(world, "GET", "/demo/reports"), _report, "waves"),
        Kind("console", _get("/console/login", {}), _status(200), "html"),
        Kind("readyz", _get("/readyz", {}), _status(200), "readyz"),
    ]
