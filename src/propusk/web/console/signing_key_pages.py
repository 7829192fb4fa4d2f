"""Signing keys: partners' public keys for signed requests (X-Digital-Sign, RFC 9421).

Nothing secret is issued here: the partner keeps its private key and the console takes
the public half, pasted or uploaded. The legacy algorithms (MD5withRSA, SHA1withRSA) sit
behind a warning and an explicit "enable legacy" box; the service refuses them otherwise.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData, UploadFile

from propusk.core import digital_sign
from propusk.core.errors import InvalidRequest
from propusk.services.audit import Origin
from propusk.services.signing_keys import KeyOptions
from propusk.web.console import key_routes
from propusk.web.console.org_context import OrgPageDep, OrgPostDep
from propusk.web.console.render import ConsoleRoute, text, texts
from propusk.web.console.scope_form import scope_choices, scope_from
from propusk.wiring import Services

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

SECTION = "signing-keys"
MAX_PEM = 16384
MODERN = tuple(n for n in digital_sign.ALGORITHMS if n not in digital_sign.LEGACY)
LEGACY = tuple(n for n in digital_sign.ALGORITHMS if n in digital_sign.LEGACY)


async def _public_key(form: FormData) -> str:
    """The pasted PEM, or else the uploaded file's text."""
    pasted = text(form, "public_key", MAX_PEM)
    if pasted:
        return pasted
    upload = form.get("public_key_file")
    if isinstance(upload, UploadFile):
        data = await upload.read(MAX_PEM + 1)
        if len(data) > MAX_PEM:
            raise InvalidRequest("The public key file is too large")
        try:
            return data.decode("ascii").strip()
        except UnicodeDecodeError:
            raise InvalidRequest("The public key file is not PEM text") from None
    raise InvalidRequest("Paste the public key or choose its file")


@router.get("/orgs/{org_id}/signing-keys", response_class=HTMLResponse)
async def signing_keys_page(view: OrgPageDep) -> Response:
    keys = await view.services.signing_keys.list(*view.who)
    choices = await scope_choices(view)
    return view.render(
        "signing_keys.html", SECTION, keys=keys, modern=MODERN, legacy=LEGACY, **choices
    )


@router.post("/orgs/{org_id}/signing-keys")
async def create_signing_key(post: OrgPostDep) -> Response:
    form = post.form
    networks = [n for n in text(form, "allowed_ips", 4096).replace(",", " ").split() if n]
    added = await post.services.signing_keys.create(
        *post.who,
        text(form, "name", 255),
        await _public_key(form),
        scope_from(form),
        post.origin,
        KeyOptions(
            algorithms=texts(form, "algorithm") or None,
            allow_legacy=form.get("allow_legacy") == "on",
            allowed_ips=networks or None,
            # How partners of the original XML API name themselves (docs/signing-keys.md).
            login=text(form, "login", 128) or None,
            terminal_id=text(form, "terminal_id", 64) or None,
        ),
    )
    # A legacy algorithm enabled on purpose still deserves the service's warning.
    kind = "error" if added.warnings else "ok"
    return post.done(" ".join(added.warnings) or "flash.signing_key_added", SECTION, kind=kind)


async def _delete(services: Services, who: key_routes.Who, key_id: str, origin: Origin) -> None:
    await services.signing_keys.delete(*who, key_id, origin)


key_routes.add_key_actions(
    router,
    SECTION,
    [
        *key_routes.status_actions(lambda s: s.signing_keys.set_status),
        key_routes.KeyAction("delete", _delete, "flash.key_deleted"),
    ],
)
