"""The partner XML API's requests and answers (spec section 3), parsed without trusting them.

Requests look like ``<request><request-type>pay</request-type><terminal-id>12345</terminal-id>
<extra name="password">…</extra>…</request>``; answers like
``<response><result-code fatal="true">150</result-code></response>``.

Parsing goes through defusedxml with every guard on: a document type declaration, an
entity declaration or an external reference is refused outright, so XXE (reading local
files, SSRF) and entity expansion ("billion laughs") never reach expat's expansion code.
The declared encoding is honoured (UTF-8 and, for the older sibling gateway, windows-1251).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from propusk.core.errors import InvalidRequest, PayloadTooLarge, PropuskError

__all__ = [
    "AUTH_ERROR",
    "IP_BLOCKED",
    "RETRY_LATER",
    "UNKNOWN_ERROR",
    "XmlRejected",
    "XmlRequest",
    "parse_request",
    "qiwi_code_for",
    "qiwi_response",
]

AUTH_ERROR = 150  # authorization error (fatal)
IP_BLOCKED = 339  # the caller's address is not allowed for this partner
RETRY_LATER = 13  # "retry in a minute": the server is overloaded or an outage is under way
UNKNOWN_ERROR = 300
MAX_FIELD_CHARS = 256


class XmlRejected(InvalidRequest):
    """The body is not a well-formed, DTD-free XML request."""

    code = "invalid_xml"
    message = "The request body is not acceptable XML"


@dataclass(frozen=True)
class XmlRequest:
    """What authentication needs from a parsed request (the rest is the app's business)."""

    terminal_id: str | None
    password: str | None = None

    def __repr__(self) -> str:  # the password must not reach a log through repr()
        return f"XmlRequest(terminal_id={self.terminal_id!r}, password=***)"


def _only(root: Element, tag: str, name: str | None = None) -> str | None:
    """The text of the one child ``tag`` of the root (with ``name=`` when given); None when
    absent; refused when repeated, since two values would let a front end and the app
    disagree about who is calling."""
    found = [
        child for child in root if child.tag == tag and (name is None or child.get("name") == name)
    ]
    if not found:
        return None
    if len(found) > 1:
        raise XmlRejected(detail=f"<{tag}> appears {len(found)} times")
    text = (found[0].text or "").strip()
    if len(text) > MAX_FIELD_CHARS:
        raise XmlRejected(detail=f"<{tag}> is too long")
    return text


def parse_request(body: bytes) -> XmlRequest:
    """Parse ``body`` with DTDs, entities and external references forbidden; return the
    terminal id and the password extra (either may be None). XmlRejected otherwise."""
    if not body.strip():
        raise XmlRejected(detail="empty body")
    try:
        root = safe_xml.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise XmlRejected(detail=f"refused XML construct: {type(exc).__name__}") from None
    except (ParseError, ValueError, LookupError) as exc:
        # LookupError: an encoding name Python does not know.
        raise XmlRejected(detail=f"malformed XML: {type(exc).__name__}") from None
    terminal = _only(root, "terminal-id")
    password = _only(root, "extra", "password")
    return XmlRequest(terminal_id=terminal or None, password=password)


def qiwi_response(code: int, *, fatal: bool = True, message: str | None = None) -> bytes:
    """``<response><result-code fatal="true">150</result-code></response>``, UTF-8."""
    attrs = f' fatal="{"true" if fatal else "false"}"'
    if message:
        attrs += f' message="{escape(message, {chr(34): "&quot;"})}"'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<response><result-code{attrs}>{code}</result-code></response>"
    ).encode()


def qiwi_code_for(error: PropuskError) -> int:
    """The result code for a refusal: 339 for a blocked address, 150 for anything about
    credentials or permissions, 13 for "try again later" (too many requests, an outage),
    300 for the rest (malformed or oversized bodies)."""
    explicit = getattr(error, "qiwi_code", None)
    if isinstance(explicit, int):
        return explicit
    if isinstance(error, (XmlRejected, PayloadTooLarge)):
        return UNKNOWN_ERROR
    if error.status in (401, 403):
        return AUTH_ERROR
    if error.status in (429, 503):
        return RETRY_LATER
    return UNKNOWN_ERROR
