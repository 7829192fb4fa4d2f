"""API keys: the table, create (the whole key shown once), reroll, revoke.

As with service keys, the secret is only in the POST answer (see
:mod:`~propusk.web.console.key_routes`); the service keeps a peppered digest, so no page
could show it again.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from propusk.services.audit import Origin
from propusk.web.console import key_routes
from propusk.web.console.org_context import OrgPageDep
from propusk.web.console.render import ConsoleRoute
from propusk.web.console.scope_form import scope_choices
from propusk.wiring import Services

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

SECTION = "api-keys"


@router.get("/orgs/{org_id}/api-keys", response_class=HTMLResponse)
async def api_keys_page(view: OrgPageDep) -> Response:
    keys = await view.services.api_keys.list_keys(*view.who)
    return view.render("api_keys.html", SECTION, keys=keys, **await scope_choices(view))


async def _revoke(services: Services, who: key_routes.Who, key_id: str, origin: Origin) -> None:
    await services.api_keys.revoke(*who, key_id, origin)


KIND = key_routes.SecretKind(
    SECTION, "reroll", "manage_api_keys", lambda s: s.api_keys, lambda s: s.api_keys.reroll
)
key_routes.add_secret_routes(router, KIND, shown="api_key_secret.html", ask="api_key_reroll.html")
key_routes.add_key_actions(
    router, SECTION, [key_routes.KeyAction("revoke", _revoke, "flash.api_key_revoked")]
)
