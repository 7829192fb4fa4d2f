"""Service keys in the console: create with the private key shown once, rotate, disable,
enable, delete by typing the name; owners only, enforced by the server."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from propusk.wiring import Services
from tests.support import Mailbox
from tests.web.console.conftest import Owned
from tests.web.console.helpers import Console, console_client, csrf_of, flash_of
from tests.web.service_key_helpers import exchange, load_private

_PRIVATE = re.compile(r'<textarea id="secret-value"[^>]*>([A-Za-z0-9+/=]+)</textarea>')


def private_key_of(page: str) -> str:
    match = _PRIVATE.search(page)
    assert match, "no private key on the page"
    return match.group(1)


def key_id_of(page: str) -> str:
    match = re.search(r'<code id="new-key-id">([0-9a-f-]{36})</code>', page)
    assert match
    return match.group(1)


async def create_key(
    owned: Owned, name: str = "CI deploy", *, all_apps: bool = True, **extra: object
) -> httpx.Response:
    org = owned.org
    data: dict[str, object] = {"name": name, "method": ["reviews.read", "reports.read"]}
    if all_apps:
        data["all_apps"] = "on"
    data.update(extra)
    return await owned.console.post(
        f"/console/orgs/{org}/service-keys", data, page=f"/console/orgs/{org}/service-keys/new"
    )


async def test_the_create_form_groups_methods_and_offers_all_apps(owned: Owned) -> None:
    page = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys/new")).text
    assert 'maxlength="255"' in page and 'data-counter="key-name-count"' in page
    assert "Apps you create later are not included" in page
    app_part, general_part = page.split("App methods")[1].split("General methods")
    assert "reviews.read" in app_part and "Read the reviews of an app" in app_part
    assert "reports.read" in general_part and "reports.read" not in app_part
    for name in owned.apps:
        assert name in page


async def test_create_shows_the_private_key_once_and_it_works(
    owned: Owned, client: httpx.AsyncClient, services: Services
) -> None:
    r = await create_key(owned)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    secret = private_key_of(r.text)
    key_id = key_id_of(r.text)
    assert "only once" in r.text and 'download="CI-deploy.pem"' in r.text
    # The downloaded key signs a real exchange.
    answer = await exchange(client, key_id, load_private(secret), services.clock.now())
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == "OK"
    # No page shows it again: the table, the rotate and delete pages hold the key id only.
    for path in ("service-keys", f"service-keys/{key_id}/rotate", f"service-keys/{key_id}/delete"):
        page = await owned.console.get(f"/console/orgs/{owned.org}/{path}")
        assert page.status_code == 200
        assert secret[:40] not in page.text and "secret-value" not in page.text
    table = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys")).text
    assert key_id in table and "CI deploy" in table
    for app_name in owned.apps:  # "All apps": every app that existed at creation
        assert f'<span class="tag">{app_name}</span>' in table
    assert "reports.read" in table and "reviews.read" in table


async def test_all_apps_does_not_include_later_apps(owned: Owned) -> None:
    await create_key(owned)
    await owned.console.create_app(owned.org, "Later")
    table = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys")).text
    assert '<span class="tag">Later</span>' not in table


async def test_chosen_apps_only(owned: Owned) -> None:
    r = await create_key(owned, "Shop only", all_apps=False, app=[owned.apps["Shop"]])
    assert r.status_code == 200
    table = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys")).text
    assert '<span class="tag">Shop</span>' in table
    assert '<span class="tag">Radio</span>' not in table


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("", {}, "name must be 1-255 printable characters"),
        ("x" * 256, {}, None),
        ("no methods", {"method": []}, "methods must name at least one method"),
        ("unknown", {"method": ["nope.nope"]}, "unknown methods: nope.nope"),
        (
            "foreign app",
            {"app": ["00000000-0000-0000-0000-000000000000"], "all_apps": None},
            "appIds must be apps of this organization",
        ),
    ],
)
async def test_bad_keys_are_refused_and_nothing_is_made(
    owned: Owned, name: str, extra: dict[str, object], message: str | None
) -> None:
    data = {k: v for k, v in extra.items() if v is not None}
    r = await create_key(owned, name, all_apps="all_apps" not in extra, **data)
    if message is None:  # over the form's limit: an error page, not a 500
        assert r.status_code == 400
    else:
        assert r.status_code == 303
        page = await owned.console.get(r.headers["location"])
        assert flash_of(page.text) == message
    table = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys")).text
    assert "No keys yet." in table


async def test_search(owned: Owned) -> None:
    await create_key(owned, "Alpha deploy")
    await create_key(owned, "Beta reports")
    page = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys?q=beta")).text
    assert "Beta reports" in page and "Alpha deploy" not in page
    none = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys?q=zzz")).text
    assert "No key matches." in none


async def test_rotate_shows_a_new_key_once(
    owned: Owned, client: httpx.AsyncClient, services: Services
) -> None:
    first = await create_key(owned)
    key_id, old = key_id_of(first.text), private_key_of(first.text)
    base = f"/console/orgs/{owned.org}/service-keys/{key_id}"
    confirm = await owned.console.get(f"{base}/rotate")
    assert "stops working at once" in confirm.text
    r = await owned.console.post(f"{base}/rotate", page=f"{base}/rotate")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    new = private_key_of(r.text)
    assert new != old and key_id_of(r.text) == key_id
    now = services.clock.now()
    assert (await exchange(client, key_id, load_private(old), now)).status_code == 401
    assert (await exchange(client, key_id, load_private(new), now)).status_code == 200


async def test_disable_and_enable(owned: Owned) -> None:
    key_id = key_id_of((await create_key(owned)).text)
    base = f"/console/orgs/{owned.org}/service-keys"
    r = await owned.console.post(f"{base}/{key_id}/disable", page=base)
    assert r.status_code == 303
    page = (await owned.console.get(base)).text
    assert flash_of(page) == "The key is disabled." and "status-disabled" in page
    await owned.console.post(f"{base}/{key_id}/enable", page=base)
    assert "status-active" in (await owned.console.get(base)).text


async def test_delete_needs_the_name_typed(owned: Owned) -> None:
    key_id = key_id_of((await create_key(owned, "Precious")).text)
    base = f"/console/orgs/{owned.org}/service-keys"
    form = f"{base}/{key_id}/delete"
    r = await owned.console.post(form, {"confirm_name": "precious"}, page=form)
    assert r.status_code == 303
    assert flash_of((await owned.console.get(form)).text) == (
        "Type the key's name exactly to delete it"
    )
    assert key_id in (await owned.console.get(base)).text
    r = await owned.console.post(form, {"confirm_name": "Precious"}, page=form)
    assert r.headers["location"] == base
    page = (await owned.console.get(base)).text
    assert key_id not in page and flash_of(page) == "The key is deleted."


async def test_a_developer_sees_the_table_but_cannot_manage_keys(
    app: FastAPI, owned: Owned, mailbox: Mailbox
) -> None:
    key_id = key_id_of((await create_key(owned, "Owned key")).text)
    async with console_client(app) as http:
        dev = Console(http)
        await dev.sign_up(mailbox, "dev@console.example")
        members = f"/console/orgs/{owned.org}/members"
        r = await owned.console.post(
            members, {"email": "dev@console.example", "role": "developer"}, page=members
        )
        assert r.status_code == 303
        base = f"/console/orgs/{owned.org}/service-keys"
        table = (await dev.get(base)).text
        assert "Owned key" in table and key_id in table
        assert "Create key" not in table and "/rotate" not in table and "/delete" not in table
        assert "Only the organization&#39;s owners" in table
        assert (await dev.get(f"{base}/new")).status_code == 403
        assert (await dev.get(f"{base}/{key_id}/delete")).status_code == 403
        # The server refuses the posts themselves, whatever the page showed.
        attempts: list[tuple[str, dict[str, object]]] = [
            (base, {"name": "sneaky", "all_apps": "on", "method": ["reviews.read"]}),
            (f"{base}/{key_id}/delete", {"confirm_name": "Owned key"}),
            (f"{base}/{key_id}/rotate", {}),
            (f"{base}/{key_id}/disable", {}),
        ]
        for path, data in attempts:
            r = await dev.post(path, data, page=base)
            assert r.status_code == 303, path
            page = await dev.get(base)
            assert flash_of(page.text) == "Your role in this organization does not allow this"
            assert "secret-value" not in r.text
    table = (await owned.console.get(base)).text
    assert "sneaky" not in table and key_id in table and "status-active" in table


async def test_a_stranger_gets_not_found(app: FastAPI, owned: Owned, mailbox: Mailbox) -> None:
    async with console_client(app) as http:
        other = Console(http)
        await other.sign_up(mailbox, "stranger@console.example")
        r = await other.get(f"/console/orgs/{owned.org}/service-keys")
        assert r.status_code == 404 and "Studio" not in r.text
        token = csrf_of((await other.get("/console/orgs")).text)
        r = await http.post(
            f"/console/orgs/{owned.org}/service-keys",
            data={"csrf": token, "name": "x", "all_apps": "on", "method": ["reviews.read"]},
        )
        assert r.status_code == 303
    assert (
        "No keys yet." in (await owned.console.get(f"/console/orgs/{owned.org}/service-keys")).text
    )
