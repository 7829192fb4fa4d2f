"""The console's session: a sealed cookie, its CSRF token, and sign-in/out.

The cookie holds one AES-256-GCM sealed JSON document (:mod:`propusk.core.sealing`): the
session id, the CSRF token, an absolute expiry and, once signed in, the account id and the
account's access/refresh token pair from :class:`~propusk.services.sessions.Sessions`.
Nothing in it is readable by the browser (sealed) or by page scripts (``HttpOnly``).
The sealing key is derived with HKDF from the keyring's pepper secret (itself sealed
with the master key in the database), so every node behind a load balancer opens every
node's cookies, and a copy of the database alone opens none.

Each request verifies the access token (stateless, RS256 with the keyring) and, once it
has expired, spends the refresh token for a new pair — so a password reset or change,
which revokes the refresh tokens, ends console sessions within ``access_token_ttl``.
Logout revokes the refresh-token family *and* marks the session id as ended in the cache
(shared through Redis across nodes), so a copied cookie stops working at once.

``SameSite=Lax``, not ``Strict``: with ``Strict`` the link in a confirmation e-mail (a
cross-site navigation) would arrive without the cookie, and the console would have to
treat a signed-in person as a stranger. Cross-site POSTs carry no cookie under ``Lax``
either; the synchronizer token below is the CSRF defence in any case.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request, Response

from propusk.core import sealing
from propusk.core.errors import InvalidToken, PropuskError, ServiceUnavailable
from propusk.core.identifiers import LOCALES  # the account locales, one list
from propusk.core.principals import Principal
from propusk.services.audit import Origin
from propusk.wiring import Services

__all__ = [
    "COOKIE_HTTP",
    "COOKIE_SECURE",
    "ConsoleSession",
    "check_csrf",
    "is_secure",
    "load_session",
    "sign_in",
    "sign_out",
    "write_cookie",
]

COOKIE_SECURE = "__Host-propusk_console"  # __Host-: Secure, Path=/, no Domain (RFC 6265bis)
COOKIE_HTTP = "propusk_console"
_CONTEXT = b"propusk-console-session:v1"
_HKDF_INFO = b"propusk console session cookie v1"
_ENDED = "console-ended"  # cache namespace of signed-out session ids
_MAX_COOKIE = 4096


@dataclass
class ConsoleSession:
    """The decoded cookie. ``dirty`` marks it for re-sealing into the response."""

    # repr=False: the CSRF token and the token pair must not reach a log through repr().
    sid: str = field(repr=False)
    csrf: str = field(repr=False)
    expires: int
    locale: str = "en"
    account_id: str | None = None
    access: str | None = field(default=None, repr=False)
    refresh: str | None = field(default=None, repr=False)
    flash: tuple[str, str] | None = None
    dirty: bool = False
    email: str | None = field(default=None)
    # The verified access token of this request (not stored in the cookie): services that
    # take a Principal (certificates: server admins are CA operators) get it from here.
    principal: Principal | None = field(default=None, compare=False)

    @property
    def signed_in(self) -> bool:
        return self.account_id is not None

    def say(self, kind: str, message: str) -> None:
        """A message for the next page (``ok`` or ``error``), shown once."""
        self.flash = (kind, message)
        self.dirty = True

    def take_flash(self) -> tuple[str, str] | None:
        flash, self.flash = self.flash, None
        if flash is not None:
            self.dirty = True
        return flash

    def _doc(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "csrf": self.csrf,
            "exp": self.expires,
            "loc": self.locale,
            "acc": self.account_id,
            "at": self.access,
            "rt": self.refresh,
            "fl": list(self.flash) if self.flash else None,
            "em": self.email,
        }


def _fresh(services: Services, locale: str = "en") -> ConsoleSession:
    now = int(services.clock.now().timestamp())
    return ConsoleSession(
        sid=secrets.token_urlsafe(16),
        csrf=secrets.token_urlsafe(32),
        expires=now + services.settings.console_session_ttl,
        locale=locale,
        dirty=True,
    )


_DERIVED: dict[bytes, bytes] = {}  # pepper -> cookie key: one HKDF per pepper, not per request


async def _key(services: Services) -> bytes:
    pepper = await services.keyring.api_key_pepper()
    key = _DERIVED.get(pepper)
    if key is None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(pepper)
        if len(_DERIVED) >= 16:  # peppers of other installations (tests): keep it small
            _DERIVED.clear()
        _DERIVED[pepper] = key
    return key


def is_secure(request: Request, services: Services) -> bool:
    """Secure cookies when the console is reached over https (directly or, with
    ``public_url = "https://…"``, behind a TLS-terminating proxy). Over plain http — local
    development — browsers would drop a Secure cookie, so it is sent without the flag."""
    public = services.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


async def _open(services: Services, raw: str) -> ConsoleSession | None:
    if not raw or len(raw) > _MAX_COOKIE:
        return None
    try:
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        doc = json.loads(sealing.open_(await _key(services), blob, context=_CONTEXT))
        flash = doc.get("fl")
        return ConsoleSession(
            sid=str(doc["sid"]),
            csrf=str(doc["csrf"]),
            expires=int(doc["exp"]),
            locale=doc["loc"] if doc.get("loc") in LOCALES else "en",
            account_id=doc.get("acc"),
            access=doc.get("at"),
            refresh=doc.get("rt"),
            flash=(str(flash[0]), str(flash[1])) if flash else None,
            email=doc.get("em"),
        )
    except (binascii.Error, ValueError, KeyError, TypeError, sealing.SealError):
        return None  # tampered, from another installation, or garbage: a stranger


async def _still_signed_in(services: Services, session: ConsoleSession, origin: Origin) -> bool:
    assert session.access is not None and session.refresh is not None
    count, _ = await services.cache.peek(f"{_ENDED}:{session.sid}")
    if count:
        return False
    try:
        principal = await services.sessions.verify_access(session.access)
        session.principal = principal
        return principal.subject == session.account_id
    except InvalidToken:
        pass  # expired (or the key was retired): try the refresh token once
    try:
        pair = await services.sessions.refresh(session.refresh, origin)
        session.principal = await services.sessions.verify_access(pair.access_token)
    except ServiceUnavailable:
        raise  # an outage: an error page (503), not a sign-out
    except PropuskError:
        return False
    session.access, session.refresh, session.dirty = pair.access_token, pair.refresh_token, True
    return session.principal.subject == session.account_id


async def load_session(request: Request, services: Services, origin: Origin) -> ConsoleSession:
    """The caller's session; a new anonymous one when there is none or it has ended."""
    raw = request.cookies.get(COOKIE_SECURE) or request.cookies.get(COOKIE_HTTP) or ""
    session = await _open(services, raw)
    now = int(services.clock.now().timestamp())
    if session is None or session.expires <= now:
        return _fresh(services, session.locale if session else "en")
    if session.signed_in and not await _still_signed_in(services, session, origin):
        return _fresh(services, session.locale)
    return session


async def write_cookie(
    request: Request, response: Response, services: Services, session: ConsoleSession
) -> None:
    """Seal ``session`` into the response's cookie (only when it changed)."""
    if not session.dirty:
        return
    blob = sealing.seal(
        await _key(services),
        json.dumps(session._doc(), separators=(",", ":")).encode(),
        nonce=secrets.token_bytes(sealing.NONCE_BYTES),
        context=_CONTEXT,
    )
    value = base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")
    secure = is_secure(request, services)
    left = max(0, session.expires - int(services.clock.now().timestamp()))
    response.set_cookie(
        COOKIE_SECURE if secure else COOKIE_HTTP,
        value,
        max_age=left,
        path="/" if secure else "/console",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def check_csrf(session: ConsoleSession, token: object) -> bool:
    """The synchronizer-token check: the form's token must be this session's."""
    if not isinstance(token, str) or not token or len(token) > 128:
        return False
    return secrets.compare_digest(token.encode(), session.csrf.encode())


async def sign_in(
    services: Services, old: ConsoleSession, email: str, password: str, origin: Origin
) -> ConsoleSession:
    """Password sign-in through :meth:`Sessions.login` (its throttle, audit and errors).
    A new session id and CSRF token afterwards: nothing from before sign-in carries over."""
    pair = await services.sessions.login(email, password, origin)
    principal = await services.sessions.verify_access(pair.access_token)
    profile = await services.accounts.profile(principal.subject)
    session = _fresh(services, profile.locale if profile.locale in LOCALES else old.locale)
    session.account_id = principal.subject
    session.principal = principal
    session.email = profile.email
    session.access, session.refresh = pair.access_token, pair.refresh_token
    return session


async def sign_out(services: Services, session: ConsoleSession, origin: Origin) -> ConsoleSession:
    """Revoke the refresh-token family and end the session id on every node."""
    if session.refresh:
        with contextlib.suppress(PropuskError):  # already invalid: nothing to revoke
            await services.sessions.logout(session.refresh, origin)
    left = max(1, session.expires - int(services.clock.now().timestamp()))
    await services.cache.add(f"{_ENDED}:{session.sid}", left)
    return _fresh(services, session.locale)
