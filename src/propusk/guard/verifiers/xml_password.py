"""``<terminal-id>`` + ``<extra name="password">`` in the body of a partner XML API request
(spec section 3): the scheme's baseline, checked against the signing key's argon2id hash
(so only where that hash is: the server's own directory, a
:class:`~propusk.guard.ports.PasswordDirectory`; a remote guard cannot offer it).
With a signature the password is not needed (the signature verifier, earlier in the
gate's table, decides)."""

from __future__ import annotations

from typing import Literal

from propusk.core.catalog import Dialect
from propusk.core.principals import Principal
from propusk.guard.ports import PasswordDirectory
from propusk.guard.request import RequestView
from propusk.guard.verifiers.partners import AddressBlocked, SignatureRejected, is_xml_api, xml_of

__all__ = ["XmlPassword"]


class XmlPassword:
    """The terminal password of an XML API request; principal method ``password``."""

    method: Literal["password"] = "password"
    dialect: Dialect | None = None

    def __init__(self, partners: PasswordDirectory) -> None:
        self._partners = partners

    def wants_body(self, request: RequestView) -> bool:
        return is_xml_api(request) and "x-digital-sign" not in request.headers

    def present(self, request: RequestView) -> bool:
        if "x-digital-sign" in request.headers:
            return False
        xml = xml_of(request)  # hostile XML raises here: refused, never "absent"
        return xml is not None and xml.terminal_id is not None and xml.password is not None

    async def verify(self, request: RequestView) -> Principal:
        xml = xml_of(request)
        assert xml is not None and xml.terminal_id is not None and xml.password is not None
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
