"""The audit trail records account events, and no secret is stored or logged in the clear."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from sqlalchemy import select, text

from propusk.services.accounts import CONFIRM_PREFIX, RESET_PREFIX
from propusk.services.audit import Audit, Origin
from propusk.storage.models import Base
from propusk.web.redaction import redact_path
from propusk.wiring import Services
from tests.helpers import PASSWORD, bearer, register, signed_up
from tests.support import Mailbox


async def _dump(services: Services) -> str:
    """Every row of every table, as text: what an attacker with the database would see."""
    parts: list[str] = []
    async with services.db.session() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            parts.extend(repr(tuple(row)) for row in rows)
    return "\n".join(parts)


async def test_account_events_are_audited(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    tokens = await signed_up(client, mailbox, "audited@example.com")
    await client.post("/v1/auth/login", json={"username": "audited@example.com", "password": "bad"})
    await client.post("/v1/auth/refresh", json={"token": tokens["refresh_token"]})
    await client.post(
        "/v1/user/password/change",
        json={"password": "another pass", "passwordRepeat": "another pass"},
        headers={**bearer(tokens), "User-Agent": "tests"},
    )
    profile = await client.get("/v1/user/profile", headers=bearer(tokens))
    # This account's events only: tests on real connections (tests/services) commit
    # events of their own to the shared database, and the log cannot be emptied.
    events = list(reversed(await services.audit.events(actor_id=profile.json()["id"])))
    kinds = [(e.kind, e.outcome) for e in events]
    assert kinds == [
        ("account.registered", "ok"),
        ("account.confirmed", "ok"),
        ("auth.login", "ok"),
        ("auth.login", "fail"),
        ("auth.refreshed", "ok"),
        ("account.password_changed", "ok"),
    ]
    account_id = events[0].actor_id
    assert all(e.actor_id == account_id and e.ip == "203.0.113.7" for e in events)
    assert events[3].data == {"reason": "bad_password"}
    assert all(e.at.tzinfo is not None for e in events)


async def test_no_secret_in_database_or_audit(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    tokens = await signed_up(client, mailbox, "secret@example.com")
    await client.post("/v1/user/password/restore", json={"email": "secret@example.com"})
    reset_code = mailbox.last("secret@example.com").code(RESET_PREFIX)
    confirm_code = mailbox.to("secret@example.com")[0].code(CONFIRM_PREFIX)
    refreshed = (
        await client.post("/v1/auth/refresh", json={"token": tokens["refresh_token"]})
    ).json()
    dump = await _dump(services)
    for secret in (
        PASSWORD,
        tokens["refresh_token"],
        refreshed["refresh_token"],
        tokens["access_token"],
        reset_code,
        confirm_code,
    ):
        assert secret not in dump
    assert "$argon2id$" in dump  # the password is there only as its hash


async def test_audit_refuses_secret_looking_fields(services: Services) -> None:
    audit: Audit = services.audit
    with pytest.raises(ValueError, match="looks like a secret"):
        await audit.record("x", actor_type="system", origin=Origin(), data={"refresh_token": "t"})
    assert await audit.events(kind="x") == []


def test_confirmation_codes_are_redacted_from_access_logs() -> None:
    line = '127.0.0.1:5 - "GET /v1/user/confirm/propusk_ec_abcDEF-_123 HTTP/1.1" 200'
    assert "propusk_ec_abc" not in redact_path(line)
    assert "/v1/user/confirm/[redacted]" in redact_path(line)


async def test_secrets_not_logged(
    client: httpx.AsyncClient, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await register(client, "logs@example.com")
    code = mailbox.last("logs@example.com").code(CONFIRM_PREFIX)
    await client.get(f"/v1/user/confirm/{code}")
    await client.post("/v1/auth/login", json={"username": "logs@example.com", "password": "nope"})
    # Everything the server side logged, down to DEBUG. The test's own client (httpx) and
    # SMTP server (aiosmtpd's mail.log) print URLs and mail bodies; they are not the server.
    server_side = [r for r in caplog.records if r.name != "httpx" and r.name != "mail.log"]
    text_logged = "\n".join(r.getMessage() for r in server_side)
    assert code not in text_logged and PASSWORD not in text_logged and "nope" not in text_logged


async def test_audit_rows_serialize_to_json(
    client: httpx.AsyncClient, mailbox: Mailbox, services: Services
) -> None:
    await signed_up(client, mailbox, "json@example.com")
    async with services.db.session() as session:
        rows = (await session.execute(text("SELECT data FROM audit_events"))).all()
    for (data,) in rows:
        json.dumps(data if isinstance(data, dict) else json.loads(data))
