"""RFC 7662 token introspection, for resource servers outside the trust boundary.

The caller authenticates with an account access token holding the ``introspect`` (or
``admin``) role. Any token that does not verify — unknown, expired, revoked, garbage —
is simply ``{"active": false}``, as the RFC asks; the reason is logged, not returned.

Three token kinds are described: account access tokens (JWT), service-key tokens (the
``Public-Token`` JWE) and managed API keys (``propusk_…``). They are told apart by their
shape, so ``token_type_hint`` (``access_token``, ``service_token``, ``api_key``) never
changes the answer; RFC 7662 section 2.1 lets the server search every kind anyway, and
unknown hints are ignored as it says.

Propusk extensions (docs/service-keys.md#introspection-post-v1introspect):

- every active answer carries the fields a remote guard needs to rebuild the exact
  :class:`~propusk.core.principals.Principal`: ``auth_method``, ``propusk_kind``,
  ``roles``, ``org``, ``methods`` and ``apps`` (null when not scoped), ``cnf``;
- ``token_type_hint=signing_key`` looks up a signing key's **public** data by
  ``lookup=id|login|terminal`` (default ``id``), for a remote guard that verifies
  ``X-Digital-Sign`` itself. Password hashes never leave the server. The lookup counts as
  a use of the key (its ``lastUsedAt``): the remote guard verifies and has nothing to
  report back.
"""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from propusk.core import digital_sign
from propusk.core.cnf import cnf_claim
from propusk.core.errors import (
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    PropuskError,
    ServiceUnavailable,
)
from propusk.core.principals import Principal
from propusk.guard.ports import TokenVerifier
from propusk.services.partner_keys import PartnerKey
from propusk.web.deps import BearerPrincipal, ServicesDep
from propusk.wiring import Services

router = APIRouter(tags=["introspection"])
log = logging.getLogger("propusk.introspect")

# A service token is refused at issue over 8,192 characters; an API key is 89; a JWT a
# few hundred. Anything longer is no token of ours and is not even parsed.
MAX_TOKEN_CHARS: Final = 10_000
MAX_FORM_BYTES: Final = 16_384
MAX_FORM_FIELDS: Final = 8  # token, token_type_hint, lookup, and room for RFC extras
TOKEN_HINTS: Final = frozenset({"access_token", "service_token", "api_key"})
SIGNING_KEY_HINT: Final = "signing_key"
LOOKUPS: Final = ("id", "login", "terminal")
API_KEY_PREFIX: Final = "propusk_"
NO_STORE: Final = {"Cache-Control": "no-store"}


def _sorted_or_none(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def _describe(principal: Principal) -> dict[str, Any]:
    body: dict[str, Any] = {
        "active": True,
        "sub": principal.subject,
        "token_use": principal.method,
    }
    # An API key has neither (its expiry lives on the key, its id is ``sub``).
    if principal.expires_at is not None:
        body["exp"] = principal.expires_at
    if principal.token_id is not None:
        body["jti"] = principal.token_id
    if principal.method in ("service-key", "api-key"):
        body.update(
            client_id=principal.subject,
            scope=" ".join(sorted(principal.methods or ())),
        )
    else:
        body.update(scope=" ".join(sorted(principal.roles)))
    # Propusk extensions: the Principal field by field, so that a remote guard decides
    # exactly as this server would (docs/guard.md#remote-mode).
    body.update(
        auth_method=principal.method,
        propusk_kind=principal.kind,
        roles=sorted(principal.roles),
        org=principal.org_id,
        methods=_sorted_or_none(principal.methods),
        apps=_sorted_or_none(principal.apps),
    )
    if principal.cert_thumbprint is not None:
        # RFC 8705 section 3.2: the resource server checks the binding itself.
        body["cnf"] = cnf_claim(principal.cert_thumbprint)
    return body


def _describe_partner(partner: PartnerKey) -> dict[str, Any]:
    """A signing key's public half and scope: what a remote guard verifies with. No
    password hash, no login or terminal id beyond what the caller already sent."""
    return {
        "active": True,
        "key_id": partner.key_id,
        "propusk_kind": "signing-key",
        "public_key": digital_sign.public_pem(partner.public_key),
        "algorithms": sorted(partner.algorithms),
        "replay_window": partner.replay_window,
        "allowed_networks": [str(n) for n in partner.allowed_networks],
        "org": partner.org_id,
        "methods": sorted(partner.methods),
        "apps": _sorted_or_none(partner.apps),
    }


def _one(form: dict[str, list[str]], name: str) -> str | None:
    """A field sent at most once (RFC 6749 section 3.1: parameters must not repeat)."""
    values = form.get(name, [])
    if len(values) > 1:
        raise InvalidRequest(f"{name} must be sent once")
    return values[0] if values else None


async def _form(request: Request) -> dict[str, list[str]]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise InvalidRequest("The body must be application/x-www-form-urlencoded")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"The form must be at most {MAX_FORM_BYTES} bytes")
    try:
        return parse_qs(raw.decode("ascii"), max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("The body is not a valid form") from exc


def _plausible(token: str) -> bool:
    # Control characters are in no token of ours; PostgreSQL would even refuse a NUL in a
    # look-up (a 500 instead of an answer).
    return len(token) <= MAX_TOKEN_CHARS and not any(ord(c) < 32 or ord(c) == 127 for c in token)


async def _token(services: Services, token: str) -> dict[str, Any]:
    verifier: TokenVerifier
    if token.startswith(API_KEY_PREFIX):
        verifier = services.api_keys  # notes the key's lastUsedAt, as the guard does
    elif token.count(".") == 2:
        verifier = services.sessions
    else:
        verifier = services.exchange
    try:
        principal = await verifier.verify(token)
    except ServiceUnavailable:
        # An outage is not an inactive token: the resource server must hear 503 (and
        # retry) rather than refuse, or cache the refusal of, a token that may be valid.
        raise
    except PropuskError as exc:
        log.info("introspection: inactive token (%s)", exc.detail or exc.code)
        return {"active": False}
    return _describe(principal)


async def _signing_key(services: Services, value: str, lookup: str) -> dict[str, Any]:
    keys = services.signing_keys
    find = {
        "id": keys.partner_by_id,
        "login": keys.partner_by_login,
        "terminal": keys.partner_by_terminal,
    }[lookup]
    partner = await find(value)
    if partner is None:
        log.info("introspection: no enabled signing key by that %s", lookup)
        return {"active": False}
    # The remote guard verifies the signature itself and reports nothing back: the
    # look-up is the use (at most one per key per revocation delay of that guard).
    await keys.note_used(partner.key_id)
    return _describe_partner(partner)


@router.post("/v1/introspect")
async def introspect(
    request: Request, caller: BearerPrincipal, services: ServicesDep
) -> JSONResponse:
    if not (caller.has_role("introspect") or caller.has_role("admin")):
        raise Forbidden("Introspection needs the introspect role")
    form = await _form(request)
    token = _one(form, "token")
    if not token:
        raise InvalidRequest("token is required")
    hint = _one(form, "token_type_hint")
    if hint == SIGNING_KEY_HINT:
        lookup = _one(form, "lookup") or "id"
        if lookup not in LOOKUPS:
            raise InvalidRequest("lookup must be id, login or terminal")
        body = (
            await _signing_key(services, token, lookup) if _plausible(token) else {"active": False}
        )
    else:
        if hint is not None and hint not in TOKEN_HINTS:
            log.debug("introspection: unknown token_type_hint ignored (RFC 7662 2.1)")
        # Any other hint, known or not, leaves the search to the token's shape.
        body = await _token(services, token) if _plausible(token) else {"active": False}
    return JSONResponse(body, headers=NO_STORE)
