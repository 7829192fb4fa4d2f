"""Organizations, the switcher, apps, members and the audit log in the console."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI

from propusk.wiring import Services
from tests.support import Mailbox
from tests.web.console.conftest import Owned
from tests.web.console.helpers import Console, console_client, flash_of


async def test_create_orgs_and_switch_between_them(owned: Owned) -> None:
    other = await owned.console.create_org("Solo", kind="individual")
    page = (await owned.console.get("/console/orgs")).text
    assert "Studio" in page and "Solo" in page and "Individual developer" in page
    r = await owned.console.get(f"/console/switch?org={other}")
    assert r.headers["location"] == f"/console/orgs/{other}/service-keys"
    keys = (await owned.console.get(r.headers["location"])).text
    assert re.search(rf'<option value="{other}" selected>Solo</option>', keys)
    assert (await owned.console.get("/console/switch?org=../../x")).headers["location"] == (
        "/console/orgs"
    )


async def test_an_org_needs_a_kind(owned: Owned) -> None:
    r = await owned.console.post("/console/orgs", {"name": "X", "kind": "empire"},
                                 page="/console/orgs")  # fmt: skip
    assert flash_of((await owned.console.get(r.headers["location"])).text) == (
        "Choose a company or an individual developer"
    )


async def test_apps_create_and_delete(owned: Owned) -> None:
    base = f"/console/orgs/{owned.org}/apps"
    page = (await owned.console.get(base)).text
    assert "Shop" in page and "Radio" in page
    r = await owned.console.post(f"{base}/{owned.apps['Radio']}/delete", page=base)
    assert r.status_code == 303
    page = (await owned.console.get(base)).text
    assert "Radio" not in page and flash_of(page) == "The app is deleted."
    r = await owned.console.post(base, {"name": "Shop"}, page=base)
    assert flash_of((await owned.console.get(base)).text) == "An app with this name already exists"


async def test_members_add_change_and_remove(app: FastAPI, owned: Owned, mailbox: Mailbox) -> None:
    async with console_client(app) as http:
        await Console(http).sign_up(mailbox, "member@console.example")
    base = f"/console/orgs/{owned.org}/members"
    await owned.console.post(base, {"email": "member@console.example", "role": "viewer"},
                             page=base)  # fmt: skip
    page = (await owned.console.get(base)).text
    assert "member@console.example" in page and flash_of(page) == "The member is added."
    member_id = re.search(r"/members/([0-9a-f-]{36})/role", page.split("member@console")[1])
    assert member_id
    await owned.console.post(f"{base}/{member_id.group(1)}/role", {"role": "admin"}, page=base)
    page = (await owned.console.get(base)).text
    assert flash_of(page) == "The role is changed."
    await owned.console.post(f"{base}/{member_id.group(1)}/remove", page=base)
    page = (await owned.console.get(base)).text
    assert "member@console.example" not in page
    # Unknown people cannot be added; the service says so.
    await owned.console.post(base, {"email": "nobody@console.example", "role": "viewer"},
                             page=base)  # fmt: skip
    assert flash_of((await owned.console.get(base)).text) == "No account with this e-mail address"


async def test_the_last_owner_cannot_leave(owned: Owned) -> None:
    base = f"/console/orgs/{owned.org}/members"
    page = (await owned.console.get(base)).text
    me = re.search(r"/members/([0-9a-f-]{36})/remove", page)
    assert me
    await owned.console.post(f"{base}/{me.group(1)}/remove", page=base)
    assert flash_of((await owned.console.get(base)).text) == (
        "An organization keeps at least one owner"
    )


async def test_audit_filters_and_pages(owned: Owned, services: Services) -> None:
    base = f"/console/orgs/{owned.org}/audit"
    for i in range(55):
        await owned.console.create_app(owned.org, f"Extra {i}")
    page = (await owned.console.get(base)).text
    assert "org.created" not in page  # the oldest event is on a later page
    assert page.count("<code>app.created</code>") == 50
    older = re.search(r'href="(\?kind=[^"]*cursor=\d+)"', page)
    assert older
    second = (await owned.console.get(base + older.group(1).replace("&amp;", "&"))).text
    assert "org.created" in second and "Older events" not in second
    only = (await owned.console.get(f"{base}?kind=org.created")).text
    assert only.count("<code>org.created</code>") == 1 and "app.created" not in only
    today = services.clock.now().strftime("%Y-%m-%d")
    dated = (await owned.console.get(f"{base}?kind=org.created&since={today}&until={today}")).text
    assert "<code>org.created</code>" in dated
    assert "owner@console.example" in dated  # the actor by e-mail, not a bare id
    bad = await owned.console.get(f"{base}?since=yesterday")
    assert bad.status_code == 400


async def test_a_viewer_sees_no_audit_log(app: FastAPI, owned: Owned, mailbox: Mailbox) -> None:
    async with console_client(app) as http:
        viewer = Console(http)
        await viewer.sign_up(mailbox, "viewer@console.example")
        base = f"/console/orgs/{owned.org}/members"
        await owned.console.post(base, {"email": "viewer@console.example", "role": "viewer"},
                                 page=base)  # fmt: skip
        keys = (await viewer.get(f"/console/orgs/{owned.org}/service-keys")).text
        assert "/audit" not in keys
        assert (await viewer.get(f"/console/orgs/{owned.org}/audit")).status_code == 403
        apps = (await viewer.get(f"/console/orgs/{owned.org}/apps")).text
        assert "Add app" not in apps


async def test_unknown_console_pages_and_bad_ids_are_html_errors(owned: Owned) -> None:
    r = await owned.console.get("/console/no/such/page")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "Not found." in r.text
    r = await owned.console.get(f"/console/orgs/{'x' * 40}/apps")
    assert r.status_code == 400 and "The request is malformed." in r.text
    r = await owned.console.get("/console/orgs/00000000-0000-0000-0000-000000000000/apps")
    assert r.status_code == 404 and "No such organization" in r.text


async def test_a_form_with_too_many_fields_is_an_html_error(owned: Owned) -> None:
    from tests.web.console.helpers import csrf_of

    token = csrf_of((await owned.console.get("/console/orgs")).text)
    body = urlencode([("csrf", token)] + [("method", "x")] * 2500)
    r = await owned.console.http.post(
        f"/console/orgs/{owned.org}/service-keys",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/orgs/%00/apps",
        "/console/orgs/{org}/service-keys/%00/rotate",
        "/console/orgs/{org}/members/a%0Ab/remove",
    ],
)
async def test_control_characters_in_path_ids_are_refused(owned: Owned, path: str) -> None:
    url = path.format(org=owned.org)
    r = (
        await owned.console.http.get(url)
        if "/apps" in url
        else await owned.console.post(url, page=f"/console/orgs/{owned.org}/service-keys")
    )
    assert 400 <= r.status_code < 500, (url, r.status_code)
