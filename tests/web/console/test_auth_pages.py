"""Sign up, confirm, sign in, sign out, reset the password: the console's forms over the
account service, and the session cookie they leave."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from propusk.services.accounts import CONFIRM_PREFIX, RESET_PREFIX
from propusk.web.console.session import COOKIE_HTTP, COOKIE_SECURE
from propusk.wiring import Services
from tests.helpers import PASSWORD
from tests.support import Mailbox, ManualClock
from tests.web.console.helpers import Console, console_client, csrf_of, flash_of


@pytest.fixture
async def console(app: FastAPI) -> AsyncIterator[Console]:
    async with console_client(app) as http:
        yield Console(http)


def cookie_attributes(response: httpx.Response) -> dict[str, Any]:
    header = response.headers["set-cookie"]
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    (name,) = jar.keys()
    morsel = jar[name]
    return {
        "name": name,
        "value": morsel.value,
        "httponly": bool(morsel["httponly"]),
        "secure": bool(morsel["secure"]),
        "samesite": morsel["samesite"],
        "path": morsel["path"],
        "max-age": morsel["max-age"],
    }


async def test_the_console_sends_strangers_to_sign_in(console: Console) -> None:
    r = await console.get("/console/")
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    r = await console.get("/console/orgs")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/orgs"


async def test_sign_up_confirm_sign_in_and_the_cookie(console: Console, mailbox: Mailbox) -> None:
    page = await console.get("/console/login")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    anonymous = cookie_attributes(page)
    assert anonymous["name"] == COOKIE_HTTP

    await console.sign_up(mailbox, "console-one@example.com")
    r = await console.get("/console/")
    assert r.status_code == 303 and r.headers["location"] == "/console/orgs"
    orgs = await console.get("/console/orgs")
    assert "console-one@example.com" in orgs.text
    # The session is a new one after sign-in (no fixation), and its cookie is safe.
    signed = await console.post(
        "/console/login",
        {"email": "console-one@example.com", "password": PASSWORD},
        page="/console/orgs",
    )
    attrs = cookie_attributes(signed)
    assert attrs["httponly"] and attrs["samesite"] == "lax" and attrs["path"] == "/console"
    assert not attrs["secure"]  # plain http (development): see docs/console.md
    assert int(attrs["max-age"]) > 0
    assert attrs["value"] != anonymous["value"]
    # Sealed: neither the refresh token nor the access token is in the cookie in clear.
    assert "propusk_rt_" not in attrs["value"] and "eyJ" not in attrs["value"]


async def test_over_https_the_cookie_is_secure_and_host_only(app: FastAPI) -> None:
    async with console_client(app, "https://console.example") as http:
        r = await http.get("/console/login")
    attrs = cookie_attributes(r)
    assert attrs["name"] == COOKIE_SECURE
    assert attrs["secure"] and attrs["httponly"] and attrs["path"] == "/"


async def test_a_wrong_password_is_refused_with_a_message(
    console: Console, mailbox: Mailbox
) -> None:
    await console.sign_up(mailbox, "console-wrong@example.com")
    await console.post("/console/logout", page="/console/orgs")
    r = await console.post(
        "/console/login",
        {"email": "console-wrong@example.com", "password": "nope nope"},
        page="/console/login",
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    page = await console.get("/console/login")
    assert flash_of(page.text) == "Invalid username or password"
    assert (await console.get("/console/orgs")).status_code == 303  # still signed out


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"login_max_failures_per_account": 2}


async def test_sign_in_uses_the_login_throttle(console: Console, mailbox: Mailbox) -> None:
    await console.sign_up(mailbox, "console-throttle@example.com")
    await console.post("/console/logout", page="/console/orgs")
    for _ in range(2):
        await console.post(
            "/console/login", {"email": "console-throttle@example.com", "password": "bad bad"}
        )
    # The right password is refused too, until the window ends.
    await console.post(
        "/console/login", {"email": "console-throttle@example.com", "password": PASSWORD}
    )
    page = await console.get("/console/login")
    assert flash_of(page.text) == "Too many attempts, try again later"
    assert (await console.get("/console/orgs")).status_code == 303


async def test_sign_out_revokes_the_session_even_for_a_copied_cookie(
    app: FastAPI, console: Console, mailbox: Mailbox
) -> None:
    await console.sign_up(mailbox, "console-out@example.com")
    copied = dict(console.http.cookies)
    r = await console.post("/console/logout", page="/console/orgs")
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert (await console.get("/console/orgs")).status_code == 303
    async with console_client(app) as thief:
        thief.cookies.update(copied)
        r = await thief.get("/console/orgs")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


async def test_a_tampered_cookie_is_a_stranger(
    app: FastAPI, console: Console, mailbox: Mailbox
) -> None:
    await console.sign_up(mailbox, "console-tamper@example.com")
    value = console.http.cookies[COOKIE_HTTP]
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    async with console_client(app) as other:
        good = await other.get("/console/orgs", headers={"Cookie": f"{COOKIE_HTTP}={value}"})
        bad = await other.get("/console/orgs", headers={"Cookie": f"{COOKIE_HTTP}={flipped}"})
    assert good.status_code == 200
    assert bad.status_code == 303


async def test_password_reset_by_code(console: Console, mailbox: Mailbox) -> None:
    await console.sign_up(mailbox, "console-reset@example.com")
    await console.post("/console/logout", page="/console/orgs")
    r = await console.post(
        "/console/password/forgot",
        {"email": "console-reset@example.com"},
        page="/console/password/forgot",
    )
    assert r.headers["location"] == "/console/password/reset"
    code = mailbox.last("console-reset@example.com").code(RESET_PREFIX)
    new = "another long password"
    r = await console.post(
        "/console/password/reset",
        {"code": code, "password": new, "repeat": new},
        page="/console/password/reset",
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    await console.sign_in("console-reset@example.com", new)
    assert (await console.get("/console/orgs")).status_code == 200


async def test_the_next_page_after_sign_in_stays_in_the_console(
    console: Console, mailbox: Mailbox
) -> None:
    await console.sign_up(mailbox, "console-next@example.com")
    await console.post("/console/logout", page="/console/orgs")
    for target, expected in [
        ("/console/orgs", "/console/orgs"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/console//evil.example", "/console/"),
    ]:
        token = csrf_of((await console.get("/console/signup")).text)
        r = await console.http.post(
            "/console/login",
            data={
                "csrf": token,
                "email": "console-next@example.com",
                "password": PASSWORD,
                "next": target,
            },
        )
        assert r.headers["location"] == expected, target


async def test_the_language_switch(console: Console) -> None:
    r = await console.post("/console/locale", {"locale": "ru", "next": "/console/signup"})
    assert r.headers["location"] == "/console/signup"
    page = await console.get("/console/signup")
    assert '<html lang="ru">' in page.text and "Регистрация" in page.text
    await console.post("/console/locale", {"locale": "en", "next": "/console/login"})
    assert "Sign in" in (await console.get("/console/login")).text


async def test_the_session_outlives_the_access_token_but_not_its_own_expiry(
    console: Console, mailbox: Mailbox, services: Services, clock: ManualClock
) -> None:
    await console.sign_up(mailbox, "console-ttl@example.com")
    clock.advance(services.settings.access_token_ttl + 5)
    r = await console.get("/console/orgs")
    assert r.status_code == 200  # the refresh token made a new pair
    assert "set-cookie" in r.headers  # and the cookie carries it
    clock.advance(services.settings.console_session_ttl)
    r = await console.get("/console/orgs")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


async def test_a_password_reset_ends_console_sessions(
    app: FastAPI, console: Console, mailbox: Mailbox, services: Services, clock: ManualClock
) -> None:
    email = "console-elsewhere@example.com"
    await console.sign_up(mailbox, email)
    async with console_client(app) as other:
        await Console(other).post(
            "/console/password/forgot", {"email": email}, page="/console/password/forgot"
        )
        code = mailbox.last(email).code(RESET_PREFIX)
        new = "a brand new password"
        await Console(other).post(
            "/console/password/reset",
            {"code": code, "password": new, "repeat": new},
            page="/console/password/reset",
        )
    clock.advance(services.settings.access_token_ttl + 5)
    r = await console.get("/console/orgs")
    assert r.status_code == 303


async def test_the_account_locale_chooses_the_language_at_sign_in(
    console: Console, mailbox: Mailbox
) -> None:
    email = "console-ru@example.com"
    r = await console.post(
        "/console/signup",
        {"email": email, "password": PASSWORD, "repeat": PASSWORD, "locale": "ru"},
        page="/console/signup",
    )
    assert r.status_code == 303
    code = mailbox.last(email).code(CONFIRM_PREFIX)
    await console.post("/console/confirm", {"code": code}, page="/console/confirm")
    # A fresh browser: nothing but the account says "Russian".
    console.http.cookies.clear()
    await console.sign_in(email)
    page = await console.get("/console/orgs")
    assert '<html lang="ru">' in page.text and "Организации" in page.text


async def test_mails_of_console_requests_link_to_the_console(
    console: Console, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await console.post(
        "/console/signup",
        {"email": "links@example.com", "password": PASSWORD, "repeat": PASSWORD, "locale": "en"},
    )
    mail = mailbox.last("links@example.com")
    code = mail.code(CONFIRM_PREFIX)
    assert f"/console/confirm/{code}" in mail.body
    assert "/v1/user/confirm/" not in mail.body
    # The link opens the form with the code filled in (a GET spends nothing).
    page = await console.get(f"/console/confirm/{code}")
    assert page.status_code == 200 and code in page.text
    await console.post("/console/confirm/resend", {"email": "links@example.com"})
    assert "/console/confirm/" in mailbox.last("links@example.com").body
    await console.post(
        "/console/confirm",
        {"code": mailbox.last("links@example.com").code(CONFIRM_PREFIX)},
        page="/console/confirm",
    )
    await console.post("/console/password/forgot", {"email": "links@example.com"})
    assert "/console/password/reset" in mailbox.last("links@example.com").body
    # Accounts made over the JSON API keep the API's link.
    r = await client.post("/v1/user", json={"username": "api@example.com", "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert "/v1/user/confirm/" in mailbox.last("api@example.com").body
