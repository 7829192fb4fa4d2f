"""Refusals in the client's own protocol.

A client written for the original service parses that service's error body, so a refused
request is answered in the *dialect* of the route (the catalog method's ``dialect``) or,
where the route names none, of the credential presented:

===========  ==========================================================================
dialect      body of a refusal
===========  ==========================================================================
``propusk``  ``{"error": "<code>", "message": "…"}`` (+ ``WWW-Authenticate`` on 401)
``rustore``  ``{"code": "ERROR", "message": "…", "body": null, "timestamp": "<ISO 8601>"}``
``waves``    ``{"error": <int>, "message": "…"}``: a node's 618/619/620/621/622, or in
             API-key mode 2/614/649 (spec section 2); 640 (503) for an outage
``qiwi-xml`` ``<response><result-code fatal="true" message="…">150</result-code></response>``
             (339 blocked address, 13 retry later, 300 anything else)
===========  ==========================================================================

The full table of dialect by refusal is in ``docs/dialects.md``. :func:`render` is the only
code that builds these bodies: the middleware, forward-auth and the FastAPI dependency all
answer through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from propusk.core.catalog import DIALECTS, Dialect
from propusk.core.errors import PropuskError
from propusk.core.xml_requests import qiwi_code_for, qiwi_response
from propusk.guard.waves_node import WavesNodeError, waves_error

__all__ = [
    "DIALECTS",
    "Answer",
    "Dialect",
    "WavesNodeError",
    "in_propusk_shape",
    "render",
    "rustore_timestamp",
    "waves_error",
    "www_authenticate",
]

_JSON = (b"content-type", b"application/json")
_XML = (b"content-type", b"application/xml; charset=utf-8")


@dataclass(frozen=True, slots=True)
class Answer:
    """A rendered refusal: what goes on the wire."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def header_dict(self) -> dict[str, str]:
        """The headers other than the body's own, for frameworks that set those."""
        return {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in self.headers
            if k not in (b"content-type", b"content-length")
        }

    @property
    def media_type(self) -> str:
        return dict(self.headers).get(b"content-type", b"application/json").decode()


def www_authenticate(code: str) -> str:
    """The Bearer challenge (RFC 6750) sent with every 401 in Propusk's dialect."""
    if code in ("invalid_token", "token_expired"):
        return 'Bearer realm="propusk", error="invalid_token"'
    return 'Bearer realm="propusk"'


def rustore_timestamp(now: float) -> str:
    """The envelope's ``timestamp``: ISO 8601 with offset and milliseconds."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")


def _json(status: int, data: object, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Answer:
    body = json.dumps(data, separators=(",", ":")).encode()
    headers = (_JSON, (b"content-length", str(len(body)).encode()), *extra)
    return Answer(status, headers, body)


def _retry_after(error: PropuskError) -> tuple[tuple[bytes, bytes], ...]:
    seconds = getattr(error, "retry_after", None)
    return ((b"retry-after", str(seconds).encode()),) if isinstance(seconds, int) else ()


def in_propusk_shape(error: PropuskError, dialect: Dialect) -> bool:
    """Whether :func:`render` answers ``error`` with Propusk's own ``{"error": <code>}``:
    in the propusk dialect, and on Waves routes for what is neither about credentials nor
    an outage (an oversized body, too many attempts), which keeps Propusk's answer
    (:func:`waves_error`; an outage there is the node's 640)."""
    return dialect in ("propusk", "waves") and not isinstance(error, WavesNodeError)


def render(
    error: PropuskError, dialect: Dialect, *, now: float, qiwi_http_200: bool = False
) -> Answer:
    """The answer to a refusal with ``error`` in ``dialect``.

    ``error`` is already the dialect's own where it has one (a :class:`WavesNodeError` for
    the waves dialect: the gate translates); ``now`` stamps the RuStore envelope.
    ``qiwi_http_200`` answers XML-envelope refusals with HTTP 200, because the original
    clients treat any other status as a network error and retry.
    """
    retry = _retry_after(error)
    if dialect == "qiwi-xml":
        xml = qiwi_response(qiwi_code_for(error), fatal=True, message=error.message)
        status = 200 if qiwi_http_200 else error.status
        return Answer(status, (_XML, (b"content-length", str(len(xml)).encode()), *retry), xml)
    if isinstance(error, WavesNodeError):
        return _json(error.status, error.envelope, retry)
    if dialect == "rustore":
        envelope = {
            "code": "ERROR",
            "message": error.message,
            "body": None,
            "timestamp": rustore_timestamp(now),
        }
        return _json(error.status, envelope, retry)
    extra = retry
    if error.status == 401:
        extra = (*extra, (b"www-authenticate", www_authenticate(error.code).encode()))
    return _json(error.status, {"error": error.code, "message": error.message}, extra)
