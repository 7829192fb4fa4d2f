"""The account API of spec §2: registration, confirmation, passwords, profile, addresses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from propusk.services.accounts import CONFIRM_PREFIX, RESET_PREFIX
from tests.helpers import PASSWORD, bearer, confirm, login, register, signed_up
from tests.support import Mailbox, ManualClock


async def test_register_accepts_login_or_username(client: httpx.AsyncClient) -> None:
    a = await register(client, "Login@Example.com")
    assert a["login"] == "login@example.com" and a["confirmed"] is False
    r = await client.post(
        "/v1/user",
        json={
            "username": "user@example.com",
            "password": PASSWORD,
            "locale": "ru",
            "source": "voting",
        },
    )
    assert r.status_code == 201
    assert r.json()["login"] == "user@example.com"


async def test_register_any_source_string(client: httpx.AsyncClient) -> None:
    # Real clients send sources beyond the documented license/voting.
    await register(client, "src@example.com", source="we-client-2")


async def test_register_duplicate_is_409(client: httpx.AsyncClient) -> None:
    await register(client, "dup@example.com")
    r = await client.post("/v1/user", json={"login": "DUP@example.com", "password": PASSWORD})
    assert r.status_code == 409
    assert r.json()["error"] == "conflict"


async def test_confirmation_mail_and_single_use_code(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await register(client, "conf@example.com")
    mail = mailbox.last("conf@example.com")
    assert "/v1/user/confirm/propusk_ec_" in mail.body
    assert mail.body.count("http://testserver/v1/user/confirm/") == 1
    code = mail.code(CONFIRM_PREFIX)
    assert (await client.get(f"/v1/user/confirm/{code}")).status_code == 200
    again = await client.get(f"/v1/user/confirm/{code}")
    assert again.status_code == 400 and again.json()["error"] == "invalid_code"


async def test_login_requires_confirmation_by_default(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await register(client, "unconf@example.com")
    r = await client.post(
        "/v1/auth/login", json={"username": "unconf@example.com", "password": PASSWORD}
    )
    assert r.status_code == 403 and r.json()["error"] == "email_not_confirmed"
    await confirm(client, mailbox, "unconf@example.com")
    await login(client, "unconf@example.com")


class TestConfirmationOptional:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"require_email_confirmation": False}

    async def test_login_without_confirmation(self, client: httpx.AsyncClient) -> None:
        await register(client, "free@example.com")
        await login(client, "free@example.com")


async def test_confirmation_code_expires(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    await register(client, "late@example.com")
    code = mailbox.last("late@example.com").code(CONFIRM_PREFIX)
    clock.advance(48 * 3600 + 1)
    assert (await client.get(f"/v1/user/confirm/{code}")).status_code == 400


async def test_resend_supersedes_old_code(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    await register(client, "resend@example.com")
    first = mailbox.last("resend@example.com").code(CONFIRM_PREFIX)
    r = await client.post("/v1/user/resendEmail", json={"email": "resend@example.com"})
    assert r.status_code == 200
    mails = mailbox.to("resend@example.com")
    assert len(mails) == 2
    second = mails[-1].code(CONFIRM_PREFIX)
    assert first != second
    assert (await client.get(f"/v1/user/confirm/{first}")).status_code == 400
    assert (await client.get(f"/v1/user/confirm/{second}")).status_code == 200


async def test_resend_and_restore_do_not_reveal_accounts(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    for path in ("/v1/user/resendEmail", "/v1/user/password/restore"):
        r = await client.post(path, json={"email": "nobody@example.com", "source": "license"})
        assert r.status_code == 200
    assert mailbox.to("nobody@example.com", timeout=0.2) == []


async def test_password_restore_and_reset(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    tokens = await signed_up(client, mailbox, "reset@example.com")
    r = await client.post(
        "/v1/user/password/restore", json={"email": "reset@example.com", "source": "license"}
    )
    assert r.status_code == 200
    code = mailbox.last("reset@example.com").code(RESET_PREFIX)
    r = await client.post(
        "/v1/user/password/reset", json={"token": code, "password": "new pass 123"}
    )
    assert r.status_code == 200, r.text
    # The old password, the code and earlier refresh tokens stop working.
    old = await client.post(
        "/v1/auth/login", json={"username": "reset@example.com", "password": PASSWORD}
    )
    assert old.status_code == 401
    await login(client, "reset@example.com", "new pass 123")
    reuse = await client.post("/v1/user/password/reset", json={"token": code, "password": "x" * 12})
    assert reuse.status_code == 400
    refresh = await client.post("/v1/auth/refresh", json={"token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_reset_code_expires(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock
) -> None:
    await signed_up(client, mailbox, "exp@example.com")
    await client.post("/v1/user/password/restore", json={"email": "exp@example.com"})
    code = mailbox.last("exp@example.com").code(RESET_PREFIX)
    clock.advance(3601)
    r = await client.post("/v1/user/password/reset", json={"token": code, "password": "x" * 12})
    assert r.status_code == 400 and r.json()["error"] == "invalid_code"


async def test_reset_with_confirm_code_is_refused(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await register(client, "mix@example.com")
    code = mailbox.last("mix@example.com").code(CONFIRM_PREFIX)
    r = await client.post("/v1/user/password/reset", json={"token": code, "password": "x" * 12})
    assert r.status_code == 400


async def test_password_change(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    tokens = await signed_up(client, mailbox, "change@example.com")
    mismatch = await client.post(
        "/v1/user/password/change",
        json={"password": "new password 1", "passwordRepeat": "new password 2"},
        headers=bearer(tokens),
    )
    assert mismatch.status_code == 400
    r = await client.post(
        "/v1/user/password/change",
        json={"password": "new password 1", "passwordRepeat": "new password 1"},
        headers=bearer(tokens),
    )
    assert r.status_code == 200
    await login(client, "change@example.com", "new password 1")
    stale = await client.post("/v1/auth/refresh", json={"token": tokens["refresh_token"]})
    assert stale.status_code == 401
    anonymous = await client.post(
        "/v1/user/password/change", json={"password": "x" * 12, "passwordRepeat": "x" * 12}
    )
    assert anonymous.status_code == 401


async def test_profile(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    tokens = await signed_up(client, mailbox, "prof@example.com")
    r = await client.get("/v1/user/profile", headers=bearer(tokens))
    body = r.json()
    assert body["login"] == "prof@example.com"
    assert body["confirmed"] is True and body["roles"] == ["user"] and body["addresses"] == []
    assert body["locale"] == "en" and body["source"] == "license" and body["type"] == "person"
    anonymous = await client.get("/v1/user/profile")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


async def test_addresses_reach_profile_and_tokens(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    import jwt

    tokens = await signed_up(client, mailbox, "addr@example.com")
    r = await client.post(
        "/v1/user/address",
        json={"address": "3NBVqYXrapgJP9atQccdBPAgJPwHDKkh6A3", "name": "node-1"},
        headers=bearer(tokens),
    )
    assert r.status_code == 200 and set(r.json()) == {"addressId"}
    dup = await client.post(
        "/v1/user/address",
        json={"address": "3NBVqYXrapgJP9atQccdBPAgJPwHDKkh6A3", "name": "again"},
        headers=bearer(tokens),
    )
    assert dup.status_code == 409
    expected = [
        {"address": "3NBVqYXrapgJP9atQccdBPAgJPwHDKkh6A3", "type": "node", "name": "node-1"}
    ]
    profile = await client.get("/v1/user/profile", headers=bearer(tokens))
    assert profile.json()["addresses"] == expected
    fresh = await client.post("/v1/auth/refresh", json={"token": tokens["refresh_token"]})
    claims = jwt.decode(fresh.json()["access_token"], options={"verify_signature": False})
    assert claims["addresses"] == expected


async def test_address_exists(client: httpx.AsyncClient) -> None:
    await register(client, "exists@example.com")
    yes = await client.get("/v1/user/address/exists", params={"email": "EXISTS@example.com"})
    no = await client.get("/v1/user/address/exists", params={"email": "not@example.com"})
    assert yes.json() == {"exist": True} and no.json() == {"exist": False}
    missing = await client.get("/v1/user/address/exists")
    assert missing.status_code == 400


async def test_mail_flooding_is_capped(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    await signed_up(client, mailbox, "flood@example.com")
    for _ in range(5):
        r = await client.post("/v1/user/password/restore", json={"email": "flood@example.com"})
        assert r.status_code == 200  # the answer never changes
    resets = [m for m in mailbox.to("flood@example.com") if "Reset" in m.subject]
    assert len(resets) == 3
