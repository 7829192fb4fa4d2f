"""The demo protected API: answers with what the guard decided, so a newcomer sees it."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from fastapi import FastAPI, Request
from fastapi.responses import Response

from propusk.guard.middleware import DECISION_KEY, principal_of

__all__ = ["create_demo_app"]


def _who(request: Request) -> dict[str, Any]:
    principal = principal_of(request.scope)
    decision = request.scope.get(DECISION_KEY)
    return {
        "subject": principal.subject if principal else None,
        "authenticatedBy": principal.method if principal else None,
        "org": principal.org_id if principal else None,
        "method": getattr(decision, "method", None),
        # Behind a proxy doing forward-auth, the identity arrives in these headers instead
        # (shown so the nginx example can be checked; trust them only from the proxy).
        "forwarded": {
            name: request.headers[name]
            for name in ("x-propusk-subject", "x-propusk-method", "x-propusk-org", "x-propusk-app")
            if request.headers.get(name)
        },
    }


def create_demo_app() -> FastAPI:
    """The bare demo routes, meant to be mounted at ``/demo`` and wrapped in
    :class:`PropuskGuard` (which matches the full, unmounted path against the catalog)."""
    app = FastAPI(title="Propusk demo API", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/apps/{app_id}")
    async def app_card(app_id: str, request: Request) -> dict[str, Any]:
        return {"app": app_id, "name": f"Demo app {app_id[:8]}", **_who(request)}

    @app.get("/apps/{app_id}/reviews")
    async def reviews(app_id: str, request: Request) -> dict[str, Any]:
        return {
            "app": app_id,
            "reviews": [{"id": "r1", "stars": 5, "text": "Great"}],
            **_who(request),
        }

    @app.post("/apps/{app_id}/reviews/{review_id}/reply")
    async def reply(app_id: str, review_id: str, request: Request) -> dict[str, Any]:
        return {"app": app_id, "review": review_id, "replied": True, **_who(request)}

    @app.get("/reports")
    async def reports(request: Request) -> dict[str, Any]:
        return {"report": "sales", "rows": [], **_who(request)}

    @app.post("/payments/topup")
    async def topup(request: Request) -> Response:
        body = await request.body()
        who = _who(request)
        xml = (
            '<response><result-code fatal="false">0</result-code>'
            f"<received-bytes>{len(body)}</received-bytes>"
            f"<subject>{escape(who['subject'] or '')}</subject></response>"
        )
        return Response(xml, media_type="application/xml")

    return app
