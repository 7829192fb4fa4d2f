"""Error envelopes: every error leaves as ``{"error": <code>, "message": <text>}``.

This is the one place where PropuskError codes become HTTP answers. Details meant for
operators (``PropuskError.detail``) go to the log, never to the caller.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from propusk.core.errors import PropuskError, ServiceUnavailable
from propusk.guard.dialects import render

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger("propusk.web")


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "The body is not valid JSON"
        if kind == "extra_forbidden":
            parts.append(f"{loc}: unknown field")
        else:
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "The request is malformed"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PropuskError)
    async def _propusk(request: Request, exc: PropuskError) -> Response:
        # An outage is logged once, when it begins (storage.faults), not once per request.
        if exc.detail and not isinstance(exc, ServiceUnavailable):
            log.info("%s %s -> %s (%s)", request.method, request.url.path, exc.code, exc.detail)
        # The server's own API speaks Propusk's dialect (Retry-After and the Bearer
        # challenge included); the guard's dialects render it, as they render refusals.
        answer = render(exc, "propusk", now=time.time())
        return Response(answer.body, answer.status, answer.header_dict(), answer.media_type)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Internal error")
