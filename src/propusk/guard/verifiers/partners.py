"""What the signed-request verifiers share: their errors, and the XML body of routes that
speak the partner XML API (parsed once per request, with the hardened parser)."""

from __future__ import annotations

from propusk.core.errors import Forbidden, InvalidSignature
from propusk.core.xml_requests import AUTH_ERROR, IP_BLOCKED, XmlRequest, parse_request
from propusk.guard.request import ROUTE_DIALECT, RequestView

__all__ = ["AddressBlocked", "SignatureRejected", "is_xml_api", "xml_of"]

XML_KEY = "xml_request"  # RequestView.extra key the gate may fill with a parsed body


class SignatureRejected(InvalidSignature):
    """Any failure of a signed request: one opaque answer (details go to the log)."""

    qiwi_code = AUTH_ERROR


class AddressBlocked(Forbidden):
    code = "address_blocked"
    message = "Requests from this address are not allowed for this partner"
    qiwi_code = IP_BLOCKED


def is_xml_api(request: RequestView) -> bool:
    return request.extra.get(ROUTE_DIALECT) == "qiwi-xml"


def xml_of(request: RequestView) -> XmlRequest | None:
    """The body parsed with the hardened parser (XmlRejected on hostile XML), or None when
    the route is not an XML API or there is no body."""
    if not is_xml_api(request) or request.body is None:
        return None
    cached = request.extra.get(XML_KEY)
    if isinstance(cached, XmlRequest):
        return cached
    parsed = parse_request(request.body)
    extra = request.extra
    if isinstance(extra, dict):
        extra[XML_KEY] = parsed  # the password scheme parses the same body once only
    return parsed
