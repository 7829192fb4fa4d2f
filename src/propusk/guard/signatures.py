"""Signed partner requests (spec section 3): ``X-Digital-Sign`` body signatures and the XML
``<terminal-id>`` + ``<extra name="password">`` scheme, plus the QIWI-style error envelope.

Who signed is looked up in this order (the first one present decides; a name that is
present but unknown is refused, it never falls through to the next):

1. ``X-Digital-Sign-Login``: what the original gateway sends; raw, or Base64 of UTF-8
   (both exist in the wild): the raw value is looked up first, then its Base64 decoding;
2. ``X-Key-Id``: the signing key's id, for clients that have no login;
3. ``<terminal-id>`` of the XML body: needs the body parsed, so it comes last.

Headers come first because they are explicit and cost no parsing; the body is then parsed
only on routes the catalog declares as XML APIs (``errors = "qiwi-xml"``).

Both schemes need the request body: they work in the embedded guard (PropuskGuard reads
the body, up to a cap, and replays it to the app). Forward-auth proxies (nginx
``auth_request``) send no body, so a signed request arriving there is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from typing import Protocol

from propusk.core import digital_sign
from propusk.core.errors import Forbidden, InvalidRequest, InvalidToken, PropuskError
from propusk.core.principals import Principal
from propusk.core.xml_requests import (
    AUTH_ERROR,
    IP_BLOCKED,
    XmlRequest,
    parse_request,
    qiwi_code_for,
    qiwi_response,
)
from propusk.guard.authenticators import RequestView
from propusk.storage.cache import Cache

__all__ = [
    "ERROR_FORMAT",
    "QIWI_XML",
    "AddressBlocked",
    "DigitalSignatureAuthenticator",
    "Partner",
    "PartnerResolver",
    "ResponseSigner",
    "SignatureRejected",
    "XmlPasswordAuthenticator",
    "qiwi_error",
]

log = logging.getLogger("propusk.guard")
ERROR_FORMAT = "error_format"  # RequestView.extra key: the matched route's error format
QIWI_XML = "qiwi-xml"
XML_KEY = "xml_request"  # RequestView.extra key the guard may fill with a parsed body
MAX_SIGNATURE_CHARS = 2048  # Base64 of an RSA-8192 signature is 1368 characters


class SignatureRejected(InvalidToken):
    """Any failure of a signed request: one opaque answer (details go to the log)."""

    code = "invalid_signature"
    message = "The request signature is not valid"
    qiwi_code = AUTH_ERROR


class AddressBlocked(Forbidden):
    code = "address_blocked"
    message = "Requests from this address are not allowed for this partner"
    qiwi_code = IP_BLOCKED


class Partner(Protocol):
    """What the authenticators need of a signing key (services.signing_keys.PartnerKey)."""

    @property
    def key_id(self) -> str: ...
    @property
    def public_key(self) -> digital_sign.PartnerPublicKey: ...
    @property
    def algorithms(self) -> frozenset[str]: ...
    @property
    def replay_window(self) -> int: ...

    def principal(self, method: str) -> Principal: ...
    def address_allowed(self, address: str | None) -> bool: ...


class PartnerResolver(Protocol):
    async def partner_by_id(self, key_id: str) -> Partner | None: ...
    async def partner_by_login(self, login: str) -> Partner | None: ...
    async def partner_by_terminal(self, terminal_id: str) -> Partner | None: ...
    async def note_used(self, key_id: str) -> None: ...
    async def check_password(self, partner: Partner | None, password: str) -> bool: ...


def _is_xml_api(request: RequestView) -> bool:
    return request.extra.get(ERROR_FORMAT) == QIWI_XML


def xml_of(request: RequestView) -> XmlRequest | None:
    """The body parsed with the hardened parser (XmlRejected on hostile XML), or None when
    the route is not an XML API or there is no body."""
    if not _is_xml_api(request) or request.body is None:
        return None
    cached = request.extra.get(XML_KEY)
    if isinstance(cached, XmlRequest):
        return cached
    parsed = parse_request(request.body)
    extra = request.extra
    if isinstance(extra, dict):
        extra[XML_KEY] = parsed  # the password scheme parses the same body once only
    return parsed


def _b64_login(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded if decoded and decoded.isprintable() else None


def _login_candidates(value: str) -> list[str]:
    """The login as sent; as UTF-8 when the header carried raw UTF-8 bytes (headers are read
    as Latin-1); then the Base64 decoding, which the sibling gateway sends."""
    out = [value]
    try:
        utf8 = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        utf8 = value
    if utf8 != value:
        out.append(utf8)
    decoded = _b64_login(value)
    if decoded is not None and decoded not in out:
        out.append(decoded)
    return out


class DigitalSignatureAuthenticator:
    """``X-Digital-Sign`` + ``X-Digital-Sign-Alg`` over the exact body bytes."""

    name = "signature"

    def __init__(self, partners: PartnerResolver, cache: Cache) -> None:
        self._partners = partners
        self._cache = cache

    def wants_body(self, request: RequestView) -> bool:
        return "x-digital-sign" in request.headers

    async def _signer(self, request: RequestView) -> Partner | None:
        login = request.headers.get("x-digital-sign-login")
        if login is not None:
            for candidate in _login_candidates(login.strip()):
                partner = await self._partners.partner_by_login(candidate)
                if partner is not None:
                    return partner
            return None
        key_id = request.headers.get("x-key-id")
        if key_id is not None:
            return await self._partners.partner_by_id(key_id.strip())
        xml = xml_of(request)
        if xml is not None and xml.terminal_id is not None:
            return await self._partners.partner_by_terminal(xml.terminal_id)
        raise SignatureRejected(detail="no X-Digital-Sign-Login, X-Key-Id or <terminal-id>")

    async def authenticate(self, request: RequestView) -> Principal | None:
        header = request.headers.get("x-digital-sign")
        if header is None:
            return None
        if request.body is None:
            raise InvalidRequest(
                "Signed requests need the embedded guard: the request body is not available",
                detail="X-Digital-Sign without a body (forward-auth?)",
            )
        alg = (request.headers.get("x-digital-sign-alg") or "").strip()
        if alg not in digital_sign.ALGORITHMS:
            raise SignatureRejected(detail=f"unknown X-Digital-Sign-Alg {alg[:40]!r}")
        text = "".join(header.split())  # folded or wrapped Base64 is still Base64
        if not text or len(text) > MAX_SIGNATURE_CHARS:
            raise SignatureRejected(detail="empty or oversized X-Digital-Sign")
        try:
            signature = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureRejected(detail="X-Digital-Sign is not Base64") from None
        xml_of(request)  # on an XML API, hostile XML is refused even when signed
        partner = await self._signer(request)
        if partner is None:
            raise SignatureRejected(detail="unknown or disabled signer")
        if alg not in partner.algorithms:
            raise SignatureRejected(detail=f"{alg} is not enabled for key {partner.key_id}")
        if not digital_sign.verify(alg, partner.public_key, request.body, signature):
            raise SignatureRejected(detail=f"bad {alg} signature for key {partner.key_id}")
        if not partner.address_allowed(request.client):
            raise AddressBlocked(detail=f"key {partner.key_id} from {request.client}")
        if partner.replay_window > 0:
            digest = hashlib.sha256(request.body).hexdigest()
            first = await self._cache.add(f"xds:{partner.key_id}:{digest}", partner.replay_window)
            if not first:
                raise SignatureRejected(detail=f"replayed body for key {partner.key_id}")
        await self._partners.note_used(partner.key_id)
        return partner.principal("signature")


class XmlPasswordAuthenticator:
    """``<terminal-id>`` + ``<extra name="password">`` in the body of an XML API request:
    the scheme's baseline, checked against the key's argon2id hash. With a signature the
    password is not needed (the signature authenticator, earlier in the list, decides)."""

    name = "xml-password"

    def __init__(self, partners: PartnerResolver) -> None:
        self._partners = partners

    def wants_body(self, request: RequestView) -> bool:
        return _is_xml_api(request) and "x-digital-sign" not in request.headers

    async def authenticate(self, request: RequestView) -> Principal | None:
        if "x-digital-sign" in request.headers:
            return None
        xml = xml_of(request)
        if xml is None or xml.terminal_id is None or xml.password is None:
            return None  # no credential of this kind: the policy answers 401
        partner = await self._partners.partner_by_terminal(xml.terminal_id)
        if not await self._partners.check_password(partner, xml.password):
            raise SignatureRejected(
                "The terminal or its password is not valid",
                # repr: the terminal id is the caller's text (it may hold line breaks
                # to forge log lines with); the password never appears.
                detail=f"terminal {xml.terminal_id!r}: unknown or wrong password",
            )
        assert partner is not None
        if not partner.address_allowed(request.client):
            raise AddressBlocked(detail=f"terminal {xml.terminal_id!r} from {request.client}")
        await self._partners.note_used(partner.key_id)
        return partner.principal("password")


def qiwi_error(error: PropuskError, *, http_200: bool) -> tuple[int, bytes]:
    """Status and body of a refusal on an XML API: the scheme's envelope with result code
    150/339/300. The HTTP status is the error's own (4xx) unless ``http_200``: the original
    clients treat any non-200 answer as a network error and retry it."""
    body = qiwi_response(qiwi_code_for(error), fatal=True)
    return (200 if http_200 else error.status), body


class ResponseSigner(Protocol):
    """Signs response bodies with the provider's key: returns (algorithm, Base64)."""

    async def sign_body(self, body: bytes) -> tuple[str, str]: ...
