"""The CA operator's queue (/console/ca/requests): server admins decide any org's
certificate requests without being members; everyone else is refused. Also: the
console's role checks are the services' own table."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import get_args

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from propusk.core.errors import Forbidden
from propusk.core.principals import Principal
from propusk.services.audit import Origin
from propusk.services.orgs import _ALLOWED, BASE_ROLES, Action, role_may
from propusk.web.console import org_pages
from propusk.web.console.render import HERE
from propusk.wiring import Services
from tests.support import Mailbox
from tests.web.console.conftest import Owned
from tests.web.console.helpers import Console, console_client, flash_of
from tests.web.console.test_signing_and_certificate_pages import csr

QUEUE = "/console/ca/requests"
ADMIN_EMAIL = "ca-admin@console.example"


@pytest.fixture
async def ca_ready(services: Services) -> None:
    await services.ca.init(Origin())


@pytest.fixture
async def admin(app: FastAPI, services: Services, mailbox: Mailbox) -> AsyncIterator[Console]:
    """A server admin who belongs to no organization, signed in to the console."""
    async with console_client(app) as http:
        console = Console(http)
        await console.sign_up(mailbox, ADMIN_EMAIL)
        account = await services.accounts.find_id_by_email(ADMIN_EMAIL)
        await services.accounts.set_roles(None, account, ["admin"], Origin())
        await console.sign_in(ADMIN_EMAIL)  # a new token, carrying the role
        yield console


async def _submit(owned: Owned, services: Services, cn: str) -> str:
    """The owner submits a CSR from the org's page; the pending request's id."""
    base = f"/console/orgs/{owned.org}/certificates"
    pem = csr(cn=cn).public_bytes(serialization.Encoding.PEM).decode()
    r = await owned.console.post(
        f"{base}/requests",
        {"csr": pem, "app": [owned.apps["Shop"]], "method": ["reviews.read"]},
        page=base,
    )
    assert r.status_code == 303
    assert "submitted" in flash_of((await owned.console.get(base)).text)
    owner = await services.accounts.find_id_by_email("owner@console.example")
    views = await services.certificates.list_requests(Principal(owner, "bearer"), owned.org)
    (found,) = (v.id for v in views if v.subject.endswith(f"CN={cn}"))
    return found


async def _status(services: Services, request_id: str) -> str:
    root = Principal("test-admin", "bearer", roles=frozenset({"admin"}))
    return (await services.certificates.get_request(root, request_id)).status


async def test_an_admin_who_is_not_a_member_approves_another_orgs_request(
    owned: Owned, admin: Console, services: Services, ca_ready: None
) -> None:
    request_id = await _submit(owned, services, "gateway-a")
    # The org's own page is closed to a stranger, admin or not: the queue is the way in.
    assert (await admin.get(f"/console/orgs/{owned.org}/certificates")).status_code == 404
    start = (await admin.get("/console/orgs")).text
    assert 'id="ca-queue-link"' in start and f'href="{QUEUE}"' in start
    page = (await admin.get(QUEUE)).text
    row = re.search(r"<tr>\s*<td data-label=\"Organization\">.*?</tr>", page, re.S)
    assert row, page
    assert "Studio" in row.group(0) and "CN=gateway-a" in row.group(0)
    assert "reviews.read" in row.group(0) and owned.apps["Shop"] in row.group(0)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row.group(0))
    assert f"{QUEUE}/{request_id}/approve" in page and f"{QUEUE}/{request_id}/reject" in page

    r = await admin.post(f"{QUEUE}/{request_id}/approve", page=QUEUE)
    assert r.status_code == 303 and r.headers["location"] == QUEUE
    page = (await admin.get(QUEUE)).text
    assert flash_of(page) == "The certificate is issued."
    assert "No requests are waiting." in page and "CN=gateway-a" not in page
    assert await _status(services, request_id) == "approved"

    # The owner sees the issued certificate on the org's page.
    mine = (await owned.console.get(f"/console/orgs/{owned.org}/certificates")).text
    table = mine.split('id="certificates-table"', 1)[1]
    assert "CN=gateway-a" in table and "status-active" in table
    assert "status-approved" in mine


async def test_an_admin_rejects_with_a_reason_the_owner_sees(
    owned: Owned, admin: Console, services: Services, ca_ready: None
) -> None:
    request_id = await _submit(owned, services, "gateway-b")
    # A rejection needs its reason: refused, still pending, the queue says why.
    r = await admin.post(f"{QUEUE}/{request_id}/reject", {"reason": "  "}, page=QUEUE)
    assert r.status_code == 303
    assert flash_of((await admin.get(QUEUE)).text) == "reason must be 1 to 255 characters"
    assert await _status(services, request_id) == "pending"

    await admin.post(f"{QUEUE}/{request_id}/reject", {"reason": "wrong CN"}, page=QUEUE)
    assert flash_of((await admin.get(QUEUE)).text) == "The request is rejected."
    assert await _status(services, request_id) == "rejected"
    mine = (await owned.console.get(f"/console/orgs/{owned.org}/certificates")).text
    assert "status-rejected" in mine and "wrong CN" in mine
    # Decided once: deciding again is refused with the service's message, not a 500.
    r = await admin.post(f"{QUEUE}/{request_id}/approve", page=QUEUE)
    assert r.status_code == 303
    assert flash_of((await admin.get(QUEUE)).text) == "the request is already rejected"


async def test_an_unknown_request_is_not_found(admin: Console, ca_ready: None) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    r = await admin.post(f"{QUEUE}/{unknown}/approve", page=QUEUE)
    assert r.status_code == 303
    assert flash_of((await admin.get(QUEUE)).text) == "No such certificate request"


@pytest.mark.parametrize("self_service", [False, True])
async def test_anyone_but_a_server_admin_is_refused(
    owned: Owned, services: Services, ca_ready: None, self_service: bool
) -> None:
    request_id = await _submit(owned, services, "gateway-c")
    if self_service:  # an owner who may decide on the org's page is still no server admin
        root = Principal("test-admin", "bearer", roles=frozenset({"admin"}))
        await services.certificates.set_self_service(root, owned.org, True, Origin())
    pages = f"/console/orgs/{owned.org}/certificates"
    assert 'id="ca-queue-link"' not in (await owned.console.get(pages)).text
    r = await owned.console.get(QUEUE)
    assert r.status_code == 404 and "Not found." in r.text and "CN=gateway-c" not in r.text
    for action, data in (("approve", {}), ("reject", {"reason": "no"})):
        r = await owned.console.post(f"{QUEUE}/{request_id}/{action}", data, page=pages)
        assert r.status_code == 404, action
    assert await _status(services, request_id) == "pending"


async def test_signed_out_visitors_are_sent_to_sign_in(console: Console) -> None:
    r = await console.get(QUEUE)
    assert r.status_code == 303 and r.headers["location"] == f"/console/login?next={QUEUE}"


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
async def test_a_decision_without_the_csrf_token_is_refused(
    owned: Owned, admin: Console, services: Services, ca_ready: None, token: str | None
) -> None:
    request_id = await _submit(owned, services, "gateway-d")
    for action in ("approve", "reject"):
        data = {"reason": "forged"} if token is None else {"csrf": token, "reason": "forged"}
        r = await admin.http.post(f"{QUEUE}/{request_id}/{action}", data=data)
        assert r.status_code == 403, action
        assert "The form expired or did not come from this page" in r.text
    assert await _status(services, request_id) == "pending"


async def test_the_queue_speaks_russian(
    owned: Owned, admin: Console, services: Services, ca_ready: None
) -> None:
    await _submit(owned, services, "gateway-e")
    await admin.post("/console/locale", {"locale": "ru", "next": QUEUE}, page=QUEUE)
    page = (await admin.get(QUEUE)).text
    assert '<html lang="ru">' in page
    assert "Запросы на сертификат, ждущие решения" in page and "Запросы к УЦ" in page
    assert "Одобрить" in page and "Причина отказа" in page


# -- one role table -------------------------------------------------------------------


@pytest.mark.parametrize("action", get_args(Action))
@pytest.mark.parametrize("role", [*BASE_ROLES, "auditor"])
def test_role_may_is_the_services_table(role: str, action: Action) -> None:
    allowed = _ALLOWED[action]
    assert role_may(role, action) is (not allowed or role in allowed)


def test_the_console_keeps_no_role_table_of_its_own() -> None:
    assert not hasattr(org_pages, "CAN")
    # Every action a template asks about is one the services know (else a 500 at render).
    asked = {
        m
        for t in (HERE / "templates").glob("*.html")
        for m in re.findall(r"""ctx\.can\(["'](\w+)["']\)""", t.read_text())
    }
    assert asked and asked <= set(get_args(Action))


async def test_org_names_are_for_server_admins_only(owned: Owned, services: Services) -> None:
    root = Principal("test-admin", "bearer", roles=frozenset({"admin"}))
    unknown = "00000000-0000-0000-0000-000000000000"
    assert await services.orgs.names(root, {owned.org, unknown}) == {owned.org: "Studio"}
    owner = await services.accounts.find_id_by_email("owner@console.example")
    with pytest.raises(Forbidden):
        await services.orgs.names(Principal(owner, "bearer"), {owned.org})
