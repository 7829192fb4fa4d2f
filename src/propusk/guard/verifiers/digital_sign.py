"""``X-Digital-Sign`` + ``X-Digital-Sign-Alg``: a signature over the exact body bytes by a
partner's signing key (spec section 3).

Who signed is looked up in this order (the first one present decides; a name that is
present but unknown is refused, it never falls through to the next):

1. ``X-Digital-Sign-Login``: what the original gateway sends; raw, or Base64 of UTF-8
   (both exist in the wild): the raw value is looked up first, then its Base64 decoding;
2. ``X-Key-Id``: the signing key's id, for clients that have no login;
3. ``<terminal-id>`` of the XML body: needs the body parsed, so it comes last.

Headers come first because they are explicit and cost no parsing; the body is then parsed
only on routes that speak the XML API (dialect ``qiwi-xml``). The verifier needs the body:
the embedded guard reads it (up to a cap) and replays it to the app; forward-auth proxies
send no body, so a signed request arriving there is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Literal

from propusk.core import digital_sign
from propusk.core.catalog import Dialect
from propusk.core.errors import InvalidRequest
from propusk.core.principals import Principal
from propusk.guard.ports import Partner, PartnerDirectory, ReplayCache
from propusk.guard.request import RequestView
from propusk.guard.verifiers.partners import AddressBlocked, SignatureRejected, xml_of

__all__ = ["DigitalSignature"]

MAX_SIGNATURE_CHARS = 2048  # Base64 of an RSA-8192 signature is 1368 characters


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


class DigitalSignature:
    """``X-Digital-Sign`` + ``X-Digital-Sign-Alg`` over the exact body bytes."""

    method: Literal["signature"] = "signature"
    dialect: Dialect | None = None

    def __init__(self, partners: PartnerDirectory, replays: ReplayCache) -> None:
        self._partners = partners
        self._replays = replays

    def present(self, request: RequestView) -> bool:
        return "x-digital-sign" in request.headers

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

    async def verify(self, request: RequestView) -> Principal:
        header = request.headers["x-digital-sign"]
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
            first = await self._replays.add(f"xds:{partner.key_id}:{digest}", partner.replay_window)
            if not first:
                raise SignatureRejected(detail=f"replayed body for key {partner.key_id}")
        await self._partners.note_used(partner.key_id)
        return partner.principal("signature")
