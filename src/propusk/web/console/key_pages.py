"""Service keys: the table, "Create key", the private key shown once, rotate, disable,
enable, delete.

The private key exists only in the answer to the POST that made it (the service keeps
just the public half); :mod:`~propusk.web.console.key_routes` says how that answer is kept
from being shown again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from propusk.core.errors import InvalidRequest
from propusk.web.api.models import KeyId
from propusk.web.console import key_routes
from propusk.web.console.org_context import OrgPageDep, OrgPostDep, app_names
from propusk.web.console.render import ConsoleRoute, text
from propusk.web.console.scope_form import method_groups

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

SECTION = "service-keys"


@router.get("/orgs/{org_id}/service-keys", response_class=HTMLResponse)
async def keys_page(view: OrgPageDep, q: Annotated[str, Query(max_length=255)] = "") -> Response:
    keys = await view.services.service_keys.list(*view.who)
    needle = q.strip().lower()
    if needle:
        keys = [k for k in keys if needle in k.name.lower() or needle in k.key_id]
    apps = app_names(await view.apps())
    return view.render("keys.html", SECTION, keys=keys, apps=apps, q=q)


@router.get("/orgs/{org_id}/service-keys/new", response_class=HTMLResponse)
async def new_key_form(view: OrgPageDep) -> Response:
    view.need("manage_keys")
    apps = await view.apps()
    return view.render(
        "key_new.html", SECTION, apps=apps, groups=method_groups(view.services.catalog)
    )


KIND = key_routes.SecretKind(
    SECTION, "rotate", "manage_keys", lambda s: s.service_keys, lambda s: s.service_keys.rotate
)
key_routes.add_secret_routes(router, KIND, shown="key_secret.html", ask="key_rotate.html")
key_routes.add_key_actions(
    router, SECTION, key_routes.status_actions(lambda s: s.service_keys.set_status)
)
key_routes.add_confirm_page(router, KIND, "delete", "key_delete.html")


@router.post("/orgs/{org_id}/service-keys/{key_id}/delete")
async def delete_key(key_id: KeyId, post: OrgPostDep) -> Response:
    # Deleting is for good: the form asks for the key's name, and so does this check.
    key = await post.services.service_keys.get(*post.who, key_id)
    if text(post.form, "confirm_name", 255) != key.name:
        raise InvalidRequest("Type the key's name exactly to delete it")
    await post.services.service_keys.delete(*post.who, key_id, post.origin)
    return post.done("flash.key_deleted", SECTION)
