"""The pieces of the exchange benchmark's workload: a server prepared with an organization
and a key store, pre-signed exchange bodies, and one measured phase of requests.

Signatures are single-use, so every request carries a body of its own. Bodies are signed
just before their phase, with timestamps a millisecond apart from "now" (far inside the
60 s window), so the client's RSA signing stays out of the figures; the requests are
pre-built bytes sent by :mod:`bench.rawload`.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bench import keystore
from bench.bare import BARE_PATH, BareServer
from bench.budget import Budget
from bench.load import check_json
from bench.rawload import Check, build_request, run_loop, send_all
from bench.server import HOST, BenchError, Server
from bench.stats import Sample

__all__ = [
    "EXCHANGE",
    "EXCHANGE_PATH",
    "METHODS",
    "Row",
    "Store",
    "bare_requests",
    "check_token",
    "exchange_requests",
    "grow",
    "livez_requests",
    "ok_envelope",
    "ok_status",
    "phase",
    "prepare",
    "refusal",
    "refused_requests",
    "sign_bodies",
]

EXCHANGE_PATH = "/public/auth/"
EXCHANGE = f"POST {EXCHANGE_PATH}"
METHODS = ("apps.read", "reviews.read")
JSON = "application/json"


def _stamp(ms: int) -> str:
    """ISO-8601 with milliseconds and an offset, built from integer milliseconds so that
    consecutive values never collide by rounding."""
    seconds, millis = divmod(ms, 1000)
    whole = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{millis:03d}+00:00"


def sign_bodies(key: rsa.RSAPrivateKey, key_ids: Sequence[str]) -> list[bytes]:
    """One exchange body per key id (repeats allowed), timestamps 1 ms apart from now."""
    first = int(time.time() * 1000)
    bodies = []
    for offset, key_id in enumerate(key_ids):
        stamp = _stamp(first + offset)
        signature = key.sign((key_id + stamp).encode(), padding.PKCS1v15(), hashes.SHA512())
        body = {
            "keyId": key_id,
            "timestamp": stamp,
            "signature": base64.b64encode(signature).decode("ascii"),
        }
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


def ok_envelope(status: int, body: bytes) -> str | None:
    """A successful exchange (or the bare endpoint's imitation of one)."""
    if status == 200 and body.startswith(b'{"code":"OK"') and b'"jwe":"' in body:
        return None
    return f"{status} {body[:200]!r}"


def ok_status(status: int, body: bytes) -> str | None:
    return None if status == 200 else f"{status} {body[:200]!r}"


def refusal(status: int, body: bytes) -> str | None:
    """A refused exchange in the original envelope."""
    if status == 401 and body.startswith(b'{"code":"ERROR"'):
        return None
    return f"expected a 401 refusal, got {status} {body[:200]!r}"


@dataclass
class Store:
    """The Propusk server under test, its organization and its keys."""

    server: Server
    host: str
    port: int
    org_id: str
    app_id: str
    key: rsa.RSAPrivateKey
    hot_key: str
    """The key of the one-key rows (created through the API, with an uploaded public key)."""
    fresh: list[str] = field(default_factory=list)
    """Inserted keys not used yet, in random order."""
    size: int = 1

    def take(self, count: int) -> list[str]:
        """``count`` keys never used, drawn at random from the whole store."""
        if len(self.fresh) < count:
            raise BenchError(f"only {len(self.fresh)} unused keys left, {count} needed")
        chosen, self.fresh = self.fresh[:count], self.fresh[count:]
        return chosen


def check_token(http: httpx.Client, key: rsa.RSAPrivateKey, key_id: str, app_id: str) -> None:
    """One exchange with httpx, and its token on ``GET /demo/apps/{app}/reviews``."""
    body = sign_bodies(key, [key_id])[0]
    answer = http.post(EXCHANGE_PATH, content=body, headers={"Content-Type": JSON})
    problem = ok_envelope(answer.status_code, answer.content)
    if problem is not None:
        raise BenchError(f"{EXCHANGE}: {problem}")
    jwe = answer.json()["body"]["jwe"]
    reviews = http.get(f"/demo/apps/{app_id}/reviews", headers={"Public-Token": jwe})
    if reviews.status_code != 200:
        raise BenchError(f"the exchanged token was refused: {reviews.status_code} {reviews.text}")


def prepare(server: Server, key: rsa.RSAPrivateKey) -> Store:
    """Log in, make an organization with one app and one key through the API (uploading
    ``key``'s public half), check that an exchange works and its token opens the demo API."""
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
        credentials = {"username": server.email, "password": server.password}
        token = check_json(http.post("/v1/auth/login", json=credentials), "access_token")
        owner = {"Authorization": f"Bearer {token['access_token']}"}
        org = http.post("/v1/orgs", json={"name": "Bench", "kind": "company"}, headers=owner)
        org_id = str(org.json()["id"])
        app = http.post(f"/v1/orgs/{org_id}/apps", json={"name": "Bench app"}, headers=owner)
        app_id = str(app.json()["id"])
        created = http.post(
            f"/v1/orgs/{org_id}/service-keys",
            json={
                "name": "bench hot key",
                "appIds": [app_id],
                "methods": list(METHODS),
                "publicKeyPem": pem,
            },
            headers=owner,
        )
        if created.status_code != 201:
            raise BenchError(f"creating a service key: {created.status_code} {created.text}")
        hot_key = str(created.json()["keyId"])
        check_token(http, key, hot_key, app_id)
    parts = urlsplit(server.base_url)
    assert parts.hostname is not None and parts.port is not None
    return Store(server, parts.hostname, parts.port, org_id, app_id, key, hot_key)


def grow(store: Store, size: int) -> float:
    """Insert keys until the store holds ``size``; the seconds it took."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    der = store.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    added = keystore.insert_keys(
        store.server.database_url,
        store.org_id,
        apps=[store.app_id],
        methods=METHODS,
        public_der=der,
        count=size - store.size,
        now=now,
        # Used a day ago: not a first use (no audit event), but due for a write.
        last_used_at=now - timedelta(days=1),
    )
    store.size = size
    store.fresh += added
    random.shuffle(store.fresh)
    return time.perf_counter() - started


def exchange_requests(store: Store, key_ids: Sequence[str]) -> list[bytes]:
    return [
        build_request("POST", store.host, store.port, EXCHANGE_PATH, body, JSON)
        for body in sign_bodies(store.key, key_ids)
    ]


def refused_requests(store: Store, count: int) -> list[bytes]:
    """Exchanges for the hot key whose signature is genuine but made for another timestamp:
    each is refused as a bad signature (the replay check comes after the signature's)."""
    template = json.loads(sign_bodies(store.key, [store.hot_key])[0])
    first = int(time.time() * 1000) + 1
    return [
        build_request(
            "POST",
            store.host,
            store.port,
            EXCHANGE_PATH,
            json.dumps(
                {**template, "timestamp": _stamp(first + n)}, separators=(",", ":")
            ).encode(),
            JSON,
        )
        for n in range(count)
    ]


def bare_requests(store: Store, bare: BareServer) -> bytes:
    """A request to the bare endpoint with an exchange body (which it does not verify)."""
    body = sign_bodies(store.key, [store.hot_key])[0]
    return build_request("POST", HOST, bare.port, BARE_PATH, body, JSON)


def livez_requests(store: Store) -> bytes:
    return build_request("GET", store.host, store.port, "/livez")


@dataclass(frozen=True)
class Row:
    """One measured phase: the client's figures and the database's CPU."""

    sample: Sample
    keys: int | None
    db_cpu: float | None


def phase(
    target: Store | BareServer,
    name: str,
    requests: Sequence[bytes],
    warm: Sequence[bytes],
    check: Check,
    budget: Budget,
    seconds: float,
    keys: int | None,
) -> Row:
    """Warm up (concurrently, so that the server's database pool opens its connections),
    then send ``requests`` until they run out or ``seconds`` pass."""
    workers = budget.exchange_concurrency
    database: str | None = None
    if isinstance(target, BareServer):
        host, port, pid = HOST, target.port, target.pid
    else:
        host, port, pid = target.host, target.port, target.server.pid
        if target.server.database_url.startswith("postgresql"):
            database = target.server.database_url  # SQLite works inside the server

    async def go() -> tuple[Sample, float | None]:
        if warm:
            warmed, _ = await send_all(
                name,
                host,
                port,
                warm,
                check,
                workers=min(workers, len(warm)),
                seconds=60.0,
                server_pid=None,
            )
            if warmed.errors:
                raise BenchError(f"{name} (warm-up): {warmed.first_error}")
        db_pids = await keystore.backend_pids(database) if database else []
        return await send_all(
            name,
            host,
            port,
            requests,
            check,
            workers=workers,
            seconds=seconds,
            server_pid=pid,
            other_pids=db_pids,
        )

    sample, db_cpu = run_loop(go())
    return Row(sample, keys, db_cpu)
