"""Waves-compatible API keys: the hash utilities, X-API-Key against configured hashes
through the demo API (the guard middleware) and forward-auth, with and without the node's
error shape."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from propusk.config import ConfigError, load_settings
from propusk.core.catalog import parse_catalog
from propusk.core.hashes import base58_encode, secure_hash
from propusk.guard import Gate, PropuskGuard, RequestView
from propusk.guard.verifiers.node_key import InvalidApiKey, NodeApiKey, configured_hashes
from propusk.guard.waves_node import ApiKeyNotValid
from propusk.web.api.utils_hash import MAX_MESSAGE_BYTES

ADMIN_KEY = secrets.token_urlsafe(24)
PRIVACY_KEY = secrets.token_urlsafe(24)


def hash_of(key: str) -> str:
    return base58_encode(secure_hash(key.encode("utf-8")))


NODE_ERROR = {"error": 2, "message": "Provided API key is not correct"}


@pytest.fixture
def waves_errors() -> bool:
    """Parametrize to True for the node's error shape."""
    return False


@pytest.fixture
def settings_overrides(waves_errors: bool) -> dict[str, Any]:
    return {
        "forward_auth_clients": ["203.0.113.0/24"],
        "api_key_hash": hash_of(ADMIN_KEY),
        "privacy_api_key_hash": hash_of(PRIVACY_KEY),
        "waves_errors": waves_errors,
    }


# --- the hash utilities ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/utils/hash/secure", "ridethewaves!", "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"),
        ("/utils/hash/secure", "1", "FX9aLVV4zJLjHAAuCXnTqdswEgEBSobnp2Tw7mHsDDcs"),
        ("/utils/hash/fast", "1", "At4g9WwxbM9kDbhzSpWy7YvshzPV9MX5FbatAt43amZ4"),
    ],
)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json"])
async def test_hash_endpoints_vectors_whatever_the_content_type(
    client: httpx.AsyncClient, path: str, body: str, expected: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    r = await client.post(path, content=body.encode(), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"message": body, "hash": expected}
    assert r.headers["cache-control"] == "no-store"


async def test_hash_endpoints_take_the_raw_string(client: httpx.AsyncClient) -> None:
    # A JSON-looking body is hashed as it is, quotes included, as the node does.
    r = await client.post("/utils/hash/secure", content=b'"1"')
    assert r.json() == {"message": '"1"', "hash": hash_of('"1"')}
    unicode = "ключ ✓"
    r = await client.post("/utils/hash/secure", content=unicode.encode())
    assert r.json() == {"message": unicode, "hash": hash_of(unicode)}
    empty = await client.post("/utils/hash/fast", content=b"")
    assert empty.status_code == 200 and empty.json()["message"] == ""


async def test_hash_endpoints_refuse_big_and_non_utf8_bodies(client: httpx.AsyncClient) -> None:
    at_cap = await client.post("/utils/hash/secure", content=b"a" * MAX_MESSAGE_BYTES)
    assert at_cap.status_code == 200
    big = await client.post("/utils/hash/secure", content=b"a" * (MAX_MESSAGE_BYTES + 1))
    assert big.status_code == 413
    assert big.json()["error"] == "payload_too_large"
    latin = await client.post("/utils/hash/fast", content=b"caf\xe9")
    assert latin.status_code == 400
    assert latin.json() == {"error": "invalid_request", "message": "The body must be UTF-8 text"}
    wrong_verb = await client.get("/utils/hash/secure")
    assert wrong_verb.status_code == 405


# --- X-API-Key through the guarded demo API ------------------------------------------------


@pytest.mark.parametrize("name", ["X-API-Key", "x-api-key", "X-API-KEY", "x-Api-kEy"])
async def test_admin_key_reaches_an_admin_method(client: httpx.AsyncClient, name: str) -> None:
    r = await client.get("/demo/reports", headers={name: ADMIN_KEY})
    assert r.status_code == 200, r.text
    assert r.json()["subject"] == "api-key-hash:admin"
    assert r.json()["authenticatedBy"] == "api-key"
    assert r.json()["method"] == "reports.read"


async def test_a_role_without_the_method_is_refused(client: httpx.AsyncClient) -> None:
    # The demo catalog grants "privacy" nothing: the key is right, the method not held.
    r = await client.get("/demo/reports", headers={"X-API-Key": PRIVACY_KEY})
    assert r.status_code == 403
    assert r.json() == {"error": "forbidden", "message": "Not allowed"}


async def test_missing_and_public(client: httpx.AsyncClient) -> None:
    missing = await client.get("/demo/reports")
    assert missing.status_code == 401 and missing.json()["error"] == "unauthenticated"
    public = await client.get("/demo/health")
    assert public.status_code == 200
    # A public route still refuses a wrong key: a bad credential never passes silently.
    wrong = await client.get("/demo/health", headers={"X-API-Key": "wrong"})
    assert wrong.status_code == 401


def _near_miss() -> str:
    last = "A" if ADMIN_KEY[-1] != "A" else "B"
    return ADMIN_KEY[:-1] + last


HOSTILE: list[tuple[str, str | bytes]] = [
    ("empty", ""),
    ("huge", "k" * 5000),
    ("latin-1 bytes", b"\xff\xfe\xe9t\xe9"),
    ("utf-8 bytes of non-ASCII", "ключ".encode()),
    ("near miss", _near_miss()),
    ("prefix of the key", ADMIN_KEY[:-1]),
    ("key twice", ADMIN_KEY * 2),
    ("upper-cased key", ADMIN_KEY.upper()),
    ("the hash instead of the key", hash_of(ADMIN_KEY)),
    ("the node's default key", "ridethewaves!"),
    ("two keys joined", f"{ADMIN_KEY}, {PRIVACY_KEY}"),
]


@pytest.mark.parametrize(("case", "value"), HOSTILE, ids=[c for c, _ in HOSTILE])
async def test_hostile_keys_are_refused(
    client: httpx.AsyncClient, case: str, value: str | bytes
) -> None:
    raw = value if isinstance(value, bytes) else value.encode("ascii")
    r = await client.get("/demo/reports", headers=[(b"X-API-Key", raw)])
    assert r.status_code == 401, (case, r.text)
    assert r.json() == {"error": "invalid_api_key", "message": "The API key is invalid"}
    # And the same through forward-auth.
    fa = await client.get(
        "/v1/authorize",
        headers=[
            (b"X-Original-Method", b"GET"),
            (b"X-Original-URI", b"/demo/reports"),
            (b"X-API-Key", raw),
        ],
    )
    assert fa.status_code == 401 and fa.json()["error"] == "invalid_api_key"


async def test_a_header_over_the_guard_cap_is_refused_before_hashing(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/demo/reports", headers={"X-API-Key": "k" * 20000})
    assert r.status_code == 431


async def test_repeated_header_is_not_a_key(client: httpx.AsyncClient) -> None:
    # Two X-API-Key headers are joined with ", " by the guard: never one of the keys.
    r = await client.get(
        "/demo/reports", headers=[("X-API-Key", ADMIN_KEY), ("X-API-Key", ADMIN_KEY)]
    )
    assert r.status_code == 401


# --- forward-auth --------------------------------------------------------------------------


def nginx(uri: str, key: str | None = None) -> dict[str, str]:
    headers = {"X-Original-Method": "GET", "X-Original-URI": uri}
    return {**headers, "X-API-Key": key} if key is not None else headers


async def test_forward_auth_with_the_admin_key(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/authorize", headers=nginx("/demo/reports", ADMIN_KEY))
    assert r.status_code == 200, r.text
    assert r.headers["x-propusk-subject"] == "api-key-hash:admin"
    assert r.headers["x-propusk-auth"] == "api-key"
    assert r.headers["x-propusk-method"] == "reports.read"
    assert r.headers["x-propusk-org"] == ""
    denied = await client.get("/v1/authorize", headers=nginx("/demo/reports", PRIVACY_KEY))
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    missing = await client.get("/v1/authorize", headers=nginx("/demo/reports"))
    assert missing.status_code == 401


async def test_app_methods_need_an_app_scope(client: httpx.AsyncClient) -> None:
    # Node keys belong to no organization and carry no app scope: the policy refuses any
    # credential without one on app methods, whatever its role (no cross-tenant reads).
    r = await client.get("/demo/apps/app-1", headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 403


# --- the node's error shape ----------------------------------------------------------------


@pytest.mark.parametrize("waves_errors", [True])
async def test_waves_errors_in_the_guard(client: httpx.AsyncClient) -> None:
    ok = await client.get("/demo/reports", headers={"X-API-Key": ADMIN_KEY})
    assert ok.status_code == 200
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}, {"X-API-Key": PRIVACY_KEY}):
        r = await client.get("/demo/reports", headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.json() == NODE_ERROR
        assert "www-authenticate" not in r.headers
    # Public routes stay public; a Bearer caller keeps Propusk's own answers.
    assert (await client.get("/demo/health")).status_code == 200
    bad_bearer = await client.get("/demo/reports", headers={"Authorization": "Bearer x.y.z"})
    assert bad_bearer.status_code == 401 and bad_bearer.json()["error"] == "invalid_token"


@pytest.mark.parametrize("waves_errors", [True])
async def test_waves_errors_in_forward_auth(client: httpx.AsyncClient) -> None:
    ok = await client.get("/v1/authorize", headers=nginx("/demo/reports", ADMIN_KEY))
    assert ok.status_code == 200
    for key in (None, "wrong", PRIVACY_KEY):
        r = await client.get("/v1/authorize", headers=nginx("/demo/reports", key))
        assert r.status_code == 403, (key, r.text)
        assert r.json() == NODE_ERROR
    public = await client.get("/v1/authorize", headers=nginx("/demo/health"))
    assert public.status_code == 200


# --- the role-specific node errors, in a resource API of one's own --------------------------

NODE_CATALOG = """
public = ["POST /utils/hash/secure"]

[[methods]]
name = "peers.ban"
kind = "general"
routes = ["POST /peers/ban"]

[[methods]]
name = "privacy.send"
kind = "general"
routes = ["POST /privacy/sendData"]

[[methods]]
name = "contracts.confidential-call"
kind = "general"
routes = ["POST /confidential-contracts/call"]

[roles]
admin = ["*"]
privacy = ["privacy.send"]
confidential_contracts = ["contracts.confidential-call"]
"""
CONTRACTS_KEY = secrets.token_urlsafe(24)


def node_like_api(*, waves_errors: bool) -> httpx.AsyncClient:
    catalog = parse_catalog(NODE_CATALOG)
    api = FastAPI()
    for path in ("/peers/ban", "/privacy/sendData", "/confidential-contracts/call"):
        api.add_api_route(path, lambda: {"ok": True}, methods=["POST"])
    hashes = configured_hashes(
        {
            "admin": hash_of(ADMIN_KEY),
            "privacy": hash_of(PRIVACY_KEY),
            "confidential_contracts": hash_of(CONTRACTS_KEY),
        }
    )
    gate = Gate(
        catalog=catalog,
        verifiers=[NodeApiKey(hashes, waves_errors=waves_errors)],
        # A node in API-key mode answers a missing key with its error 2/614/649 too.
        anonymous_dialect="waves" if waves_errors else None,
        waves_api_key_mode=waves_errors,
    )
    guarded = PropuskGuard(api, gate=gate)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://node")


ROLE_ERRORS = [
    ("/peers/ban", ADMIN_KEY, 2, "Provided API key is not correct"),
    ("/privacy/sendData", PRIVACY_KEY, 614, "Provided privacy API key is not correct"),
    (
        "/confidential-contracts/call",
        CONTRACTS_KEY,
        649,
        "Provided ConfidentialContracts API key is not correct",
    ),
]


@pytest.mark.parametrize(("path", "key", "code", "message"), ROLE_ERRORS)
async def test_each_role_has_the_node_error_code(
    path: str, key: str, code: int, message: str
) -> None:
    async with node_like_api(waves_errors=True) as node:
        assert (await node.post(path, headers={"X-API-Key": key})).status_code == 200
        for headers in ({}, {"X-API-Key": "wrong"}):
            r = await node.post(path, headers=headers)
            assert r.status_code == 403
            assert r.json() == {"error": code, "message": message}
    async with node_like_api(waves_errors=False) as node:
        r = await node.post(path, headers={"X-API-Key": "wrong"})
        assert r.status_code == 401 and r.json()["error"] == "invalid_api_key"


async def test_a_role_key_on_another_roles_route() -> None:
    async with node_like_api(waves_errors=True) as node:
        # The privacy key on an admin route: the node's admin-key error.
        r = await node.post("/peers/ban", headers={"X-API-Key": PRIVACY_KEY})
        assert r.status_code == 403 and r.json()["error"] == 2
        # admin = ["*"] here, so the admin key also reaches the privacy route.
        r = await node.post("/privacy/sendData", headers={"X-API-Key": ADMIN_KEY})
        assert r.status_code == 200


# --- the verifier alone ---------------------------------------------------------------


def view(key: str | None) -> RequestView:
    headers = {"x-api-key": key} if key is not None else {}
    return RequestView(method="POST", path="/peers/ban", headers=headers)


async def test_managed_keys_and_unconfigured_hashes_are_left_to_others() -> None:
    catalog = parse_catalog(NODE_CATALOG)
    hashes = configured_hashes({"admin": hash_of(ADMIN_KEY)})
    configured = NodeApiKey(hashes, waves_errors=True)
    assert not configured.present(view(None))
    managed = "propusk_" + "0" * 16 + "_" + "f" * 64
    assert not configured.present(view(managed))
    assert not configured.present(view("propusk_garbage"))
    unconfigured = NodeApiKey(())
    assert not unconfigured.present(view(ADMIN_KEY))
    assert not unconfigured.present(view("anything"))
    # Any other value is this verifier's to judge: refused, never passed on.
    lookalike = view("Propusk_" + "0" * 16)
    assert configured.present(lookalike)
    with pytest.raises(InvalidApiKey):
        await configured.verify(lookalike)
    # ... and the gate says it as a node would.
    gate = Gate(catalog=catalog, verifiers=[configured])
    refusal = await gate.check(lookalike)
    assert not hasattr(refusal, "principal")
    assert isinstance(getattr(refusal, "error", None), ApiKeyNotValid)


async def test_one_key_for_two_roles_holds_both() -> None:
    both = configured_hashes({"admin": hash_of(ADMIN_KEY), "privacy": hash_of(ADMIN_KEY)})
    principal = await NodeApiKey(both).verify(view(ADMIN_KEY))
    assert principal.roles == frozenset({"admin", "privacy"})
    assert principal.subject == "api-key-hash:admin+privacy"
    assert principal.kind == "api-key" and principal.method == "api-key"


async def test_non_latin1_text_in_a_hand_built_view_is_hashed_as_utf8() -> None:
    key = "ключ-" + secrets.token_hex(4)
    verifier = NodeApiKey(configured_hashes({"admin": hash_of(key)}))
    principal = await verifier.verify(view(key))
    assert principal.roles == frozenset({"admin"})


@pytest.mark.parametrize(
    "bad",
    ["ridethewaves!", "abc", "0" * 44, hash_of(ADMIN_KEY) + "1", base58_encode(bytes(31))],
)
def test_settings_refuse_a_hash_that_is_not_32_bytes_of_base58(bad: str) -> None:
    with pytest.raises(ConfigError, match="api_key_hash"):
        load_settings(environ={}, api_key_hash=bad)
    with pytest.raises(ValueError, match=r"32 bytes|Base58"):
        configured_hashes({"admin": bad})


def test_settings_accept_the_node_default_and_treat_empty_as_unset() -> None:
    s = load_settings(
        environ={"PROPUSK_PRIVACY_API_KEY_HASH": " "},
        api_key_hash="H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu",
    )
    assert s.api_key_hash == "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"
    assert s.privacy_api_key_hash is None
