"""The gate as a FastAPI (or Starlette) dependency, for resource APIs that would rather
guard some routes than wrap the whole app:

    guard = GuardDependency(gate)
    install(app)                               # renders refusals in their dialect

    @app.get("/v1/apps/{app_id}/reviews")
    async def reviews(app_id: str, principal: Principal | None = Depends(guard)): ...

The dependency runs the same :meth:`Gate.check <propusk.guard.gate.Gate.check>` as the
middleware and forward-auth, so the same request gets the same answer from all three.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from propusk.core.errors import PayloadTooLarge, PropuskError
from propusk.core.principals import Principal
from propusk.guard.body import DEFAULT_MAX_BODY_BYTES, content_length
from propusk.guard.dialects import Answer
from propusk.guard.gate import Gate, Refusal
from propusk.guard.middleware import DECISION_KEY, PRINCIPAL_KEY
from propusk.guard.request import RequestView, request_view

__all__ = ["GateRefused", "GuardDependency", "install"]


class GateRefused(Exception):
    """Raised by the dependency; :func:`install` turns it into the rendered answer."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


class GuardDependency:
    """``Depends(GuardDependency(gate))``: the caller's Principal (None on a public route),
    or the refusal raised as :class:`GateRefused`. The body is read (at most
    ``max_body_bytes``) only when a verifier needs it, and stays readable for the route."""

    def __init__(self, gate: Gate, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.gate = gate
        self.max_body_bytes = max_body_bytes

    async def __call__(self, request: Request) -> Principal | None:
        gate = self.gate
        try:
            view = request_view(request.scope)
        except PropuskError as exc:
            bare = RequestView(request.method, request.url.path, {})
            refusal = gate.refuse(exc, bare, None, entry="dependency")
            raise GateRefused(gate.answer(refusal)) from None

        async def body() -> bytes:
            # Over the cap by its Content-Length: refused before a byte is read.
            content_length(view.headers.get("content-length"), self.max_body_bytes)
            data = await request.body()  # Starlette keeps it for the route
            if len(data) > self.max_body_bytes:
                raise PayloadTooLarge(detail=f"body over {self.max_body_bytes} bytes")
            return data

        outcome = await gate.check(view, body=body, entry="dependency")
        if isinstance(outcome, Refusal):
            raise GateRefused(gate.answer(outcome))
        request.scope[PRINCIPAL_KEY] = outcome.principal
        request.scope[DECISION_KEY] = outcome.decision
        return outcome.principal


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GateRefused)
    answer = exc.answer
    return Response(answer.body, answer.status, answer.header_dict(), answer.media_type)


def install(app: Starlette) -> None:
    """Answer :class:`GateRefused` with its rendered refusal (FastAPI apps are Starlette
    apps)."""
    app.add_exception_handler(GateRefused, _refused)
