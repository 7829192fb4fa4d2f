"""Every form post needs the session's CSRF token: missing or wrong → 403, nothing done."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from propusk.web.console import ROUTERS
from tests.web.console.conftest import Owned
from tests.web.console.helpers import csrf_of

POSTS = sorted(
    route.path for router in ROUTERS for route in router.routes
    if isinstance(route, APIRoute) and "POST" in (route.methods or ())
)  # fmt: skip


def test_the_console_has_the_forms_we_expect() -> None:
    assert len(POSTS) >= 20
    assert "/console/orgs/{org_id}/service-keys" in POSTS
    assert "/console/login" in POSTS and "/console/logout" in POSTS


def _concrete(path: str, owned: Owned) -> str:
    return (
        path.replace("{org_id}", owned.org)
        .replace("{app_id}", owned.apps["Shop"])
        .replace("{key_id}", "00000000-0000-0000-0000-000000000000")
        .replace("{member_id}", "00000000-0000-0000-0000-000000000000")
        .replace("{request_id}", "00000000-0000-0000-0000-000000000000")
        .replace("{serial}", "0a")
    )


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("token", [None, "", "wrong-token", "x" * 200])
async def test_every_post_refuses_a_missing_or_wrong_token(
    owned: Owned, path: str, token: str | None
) -> None:
    data = {} if token is None else {"csrf": token}
    r = await owned.console.http.post(_concrete(path, owned), data=data)
    assert r.status_code == 403, (path, r.status_code)
    assert "The form expired or did not come from this page" in r.text


async def test_a_token_of_another_session_is_refused(app: FastAPI, owned: Owned) -> None:
    from tests.web.console.helpers import console_client

    async with console_client(app) as other:
        foreign = csrf_of((await other.get("/console/login")).text)
    org = owned.org
    r = await owned.console.http.post(
        f"/console/orgs/{org}/service-keys",
        data={"csrf": foreign, "name": "forged", "all_apps": "on", "method": ["reviews.read"]},
    )
    assert r.status_code == 403
    r = await owned.console.http.post(
        f"/console/orgs/{org}/apps", data={"csrf": foreign, "name": "Forged app"}
    )
    assert r.status_code == 403
    assert "forged" not in (await owned.console.get(f"/console/orgs/{org}/service-keys")).text
    assert "Forged app" not in (await owned.console.get(f"/console/orgs/{org}/apps")).text


async def test_a_refused_sign_out_leaves_the_session(owned: Owned) -> None:
    r = await owned.console.http.post("/console/logout", data={})
    assert r.status_code == 403
    assert (await owned.console.get("/console/orgs")).status_code == 200


async def test_every_form_on_every_page_carries_the_token(owned: Owned) -> None:
    org = owned.org
    pages = ("service-keys", "service-keys/new", "api-keys", "apps", "members", "audit",
             "signing-keys", "certificates")  # fmt: skip
    for path in pages:
        page = (await owned.console.get(f"/console/orgs/{org}/{path}")).text
        forms = re.findall(r'<form method="post".*?</form>', page, re.S)
        assert forms, path
        for form in forms:
            assert 'name="csrf"' in form, (path, form[:80])
