"""Malformed, oversized and hostile input: a 4xx with the JSON envelope, and no write."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from propusk.storage.models import Account, AccountRole, AuditEvent, EmailToken, RefreshToken
from propusk.wiring import Services
from tests.helpers import PASSWORD

JSON = {"content-type": "application/json"}
GOOD_REGISTER = {"login": "new@example.com", "password": PASSWORD, "locale": "en", "source": "x"}

# (name, method, path, raw body or JSON object)
CASES: list[tuple[str, str, str, Any]] = [
    ("register-malformed-json", "POST", "/v1/user", b'{"login": "a@b.co",'),
    ("register-not-utf8", "POST", "/v1/user", b'{"login": "\xff\xfe@b.co", "password": "x"}'),
    ("register-array", "POST", "/v1/user", [GOOD_REGISTER]),
    ("register-null", "POST", "/v1/user", None),
    ("register-empty-body", "POST", "/v1/user", b""),
    ("register-missing-password", "POST", "/v1/user", {"login": "a@b.co"}),
    ("register-missing-login", "POST", "/v1/user", {"password": PASSWORD}),
    ("register-login-number", "POST", "/v1/user", {**GOOD_REGISTER, "login": 5}),
    ("register-password-number", "POST", "/v1/user", {**GOOD_REGISTER, "password": 12345678}),
    ("register-password-list", "POST", "/v1/user", {**GOOD_REGISTER, "password": ["a"]}),
    ("register-unknown-field", "POST", "/v1/user", {**GOOD_REGISTER, "isAdmin": True}),
    ("register-roles-field", "POST", "/v1/user", {**GOOD_REGISTER, "roles": ["admin"]}),
    ("register-bad-email", "POST", "/v1/user", {**GOOD_REGISTER, "login": "not-an-email"}),
    ("register-bad-locale", "POST", "/v1/user", {**GOOD_REGISTER, "locale": "de"}),
    ("register-empty-source", "POST", "/v1/user", {**GOOD_REGISTER, "source": ""}),
    ("register-short-password", "POST", "/v1/user", {**GOOD_REGISTER, "password": "short"}),
    ("register-huge-password", "POST", "/v1/user", {**GOOD_REGISTER, "password": "p" * 5000}),
    (
        "register-login-username-differ",
        "POST",
        "/v1/user",
        {**GOOD_REGISTER, "username": "other@example.com"},
    ),
    ("register-oversized", "POST", "/v1/user", {**GOOD_REGISTER, "source": "s" * 70_000}),
    ("register-nul-in-email", "POST", "/v1/user", {**GOOD_REGISTER, "login": "a\u0000@b.co"}),
    ("login-malformed", "POST", "/v1/auth/login", b"username=a&password=b"),
    ("login-missing-password", "POST", "/v1/auth/login", {"username": "a@b.co"}),
    ("login-password-object", "POST", "/v1/auth/login", {"username": "a@b.co", "password": {}}),
    (
        "login-unknown-field",
        "POST",
        "/v1/auth/login",
        {"username": "a@b.co", "password": PASSWORD, "grant_type": "password"},
    ),
    (
        "login-huge-password",
        "POST",
        "/v1/auth/login",
        {"username": "a@b.co", "password": "p" * 60_000},
    ),
    ("refresh-missing-token", "POST", "/v1/auth/refresh", {}),
    ("refresh-token-number", "POST", "/v1/auth/refresh", {"token": 1}),
    ("refresh-token-huge", "POST", "/v1/auth/refresh", {"token": "propusk_rt_" + "A" * 5000}),
    ("logout-not-json", "POST", "/v1/auth/logout", b"\x00\x01\x02"),
    ("reset-missing-password", "POST", "/v1/user/password/reset", {"token": "propusk_pr_x"}),
    ("reset-bad-token", "POST", "/v1/user/password/reset", {"token": "x", "password": PASSWORD}),
    ("restore-no-email", "POST", "/v1/user/password/restore", {"source": "license"}),
    ("restore-bad-email", "POST", "/v1/user/password/restore", {"email": "nope"}),
    ("resend-unknown-field", "POST", "/v1/user/resendEmail", {"email": "a@b.co", "x": 1}),
    ("confirm-garbage-code", "GET", "/v1/user/confirm/garbage", None),
    ("confirm-long-code", "GET", "/v1/user/confirm/" + "propusk_ec_" + "a" * 500, None),
    ("exists-no-email", "GET", "/v1/user/address/exists", None),
    ("profile-no-token", "GET", "/v1/user/profile", None),
    ("admin-no-token", "GET", "/v1/admin/accounts?email=a@b.co", None),
    ("unknown-route", "GET", "/v1/nothing-here", None),
    ("wrong-method", "DELETE", "/v1/auth/login", None),
]


async def _counts(services: Services) -> tuple[int, ...]:
    async with services.db.session() as session:
        return tuple(
            [
                int(await session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Account, AccountRole, EmailToken, RefreshToken, AuditEvent)
            ]
        )


@pytest.mark.parametrize(
    ("method", "path", "body"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_is_refused_cleanly(
    client: httpx.AsyncClient, services: Services, method: str, path: str, body: Any
) -> None:
    before = await _counts(services)
    if isinstance(body, bytes):
        response = await client.request(method, path, content=body, headers=JSON)
    elif body is None:
        response = await client.request(method, path)
    else:
        response = await client.request(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    envelope = response.json()
    assert set(envelope) == {"error", "message"}
    assert isinstance(envelope["error"], str) and isinstance(envelope["message"], str)
    # Nothing was written: no account, no code, no token (failed logins are audited, and
    # that is the only write a refused request may make).
    after = await _counts(services)
    assert after[:4] == before[:4]
    if not path.startswith("/v1/auth/login"):
        assert after[4] == before[4]


async def test_oversized_body_without_content_length(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1024

    response = await client.post("/v1/user", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_bad_content_length(client: httpx.AsyncClient) -> None:
    # httpx computes Content-Length itself, so speak ASGI directly.
    messages: list[dict[str, Any]] = []
    app = client._transport.app  # type: ignore[attr-defined]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/user",
        "raw_path": b"/v1/user",
        "query_string": b"",
        "headers": [(b"content-length", b"-5")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("203.0.113.7", 1),
        "root_path": "",
    }
    await app(scope, receive, send)
    assert messages[0]["status"] == 400


async def test_a_content_length_of_thousands_of_digits_is_413(client: httpx.AsyncClient) -> None:
    # int() refuses more than 4300 digits with a ValueError: that was a 500.
    messages: list[dict[str, Any]] = []
    app = client._transport.app  # type: ignore[attr-defined]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/user",
        "raw_path": b"/v1/user",
        "query_string": b"",
        "headers": [(b"content-length", b"9" * 5000)],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("203.0.113.7", 1),
        "root_path": "",
    }
    await app(scope, receive, send)
    assert messages[0]["status"] == 413


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b.c",
        "Bearer " + "A" * 9000,
        "Token abc",
        "bearer  x",
    ],
)
async def test_bad_authorization_headers(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/v1/user/profile", headers={"Authorization": header})
    assert response.status_code == 401
    assert set(response.json()) == {"error", "message"}
