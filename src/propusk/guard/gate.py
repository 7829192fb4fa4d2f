"""The gate: the one place where a request becomes a :class:`Principal` or a :class:`Refusal`.

Every entry point is a thin adapter over :meth:`Gate.check`: the ASGI middleware
(:mod:`propusk.guard.middleware`), forward-auth for proxies (``/v1/authorize``), and the
FastAPI dependency (:mod:`propusk.guard.dependency`). The steps, in this order:

1. **route** — the request's route in the method catalog, matched once: the policy needs
   it, and so does the dialect of a refusal (``qiwi-xml`` routes also read the body as XML);
2. **find** — the first verifier of the table whose credential is :meth:`present
   <propusk.guard.verifiers.Verifier.present>` (the body is read first when it asks for it);
3. **verify** — that verifier decides; a present-but-wrong credential is refused, it never
   falls through to another kind; a token bound to a client certificate (RFC 8705) passes
   only with that certificate;
4. **authorize** — :func:`propusk.core.policy.decide`, deny by default;
5. **answer** — a refusal in the dialect of the route or, where the route names none, of the
   credential (:mod:`propusk.guard.dialects`), reported once to the audit sink.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from propusk.core.catalog import Dialect, MethodCatalog
from propusk.core.cnf import same_thumbprint
from propusk.core.errors import InvalidToken, PropuskError
from propusk.core.policy import Decision, Target, decide, target_of
from propusk.core.principals import AuthMethod, Principal
from propusk.guard.dialects import Answer, render, waves_error
from propusk.guard.ports import AuditSink, LogAudit, WallClock
from propusk.guard.request import ROUTE_DIALECT, RequestView
from propusk.guard.verifiers import Verifier
from propusk.guard.verifiers.client_cert import CertificateSource

__all__ = ["BodyReader", "Gate", "Passed", "Refusal"]

BodyReader = Callable[[], Awaitable[bytes]]
"""Reads the request body for verifiers that sign it (capped by the adapter)."""


@dataclass(frozen=True, slots=True)
class Passed:
    """The request may go on: who made it (None on a public route) and the decision."""

    principal: Principal | None
    decision: Decision


@dataclass(frozen=True, slots=True)
class Refusal:
    """The request is refused: the error (already in the dialect's own terms where the
    dialect has them) and the dialect to answer in."""

    error: PropuskError
    dialect: Dialect
    method: AuthMethod | None = None  # the credential presented, if any
    decision: Decision | None = None  # None: refused before the policy was asked


class Gate:
    """Finds, verifies and authorizes the credential of a request.

    - ``verifiers``: the table of credential kinds, in the order they are looked for;
    - ``catalog``: the provider's methods and routes;
    - ``certificates``: where a request's client certificate comes from, for tokens bound
      to one (RFC 8705); None: no binding is checked (no certificates in this deployment);
    - ``anonymous_dialect``: the dialect of a refusal without any credential on a route
      that names none (``waves`` when node-style keys answer as a node);
    - ``qiwi_http_200``: XML-envelope refusals with HTTP 200 (the original clients retry
      anything else); ``clock`` stamps RuStore envelopes; ``audit`` hears every refusal.
    """

    def __init__(
        self,
        *,
        catalog: MethodCatalog,
        verifiers: Sequence[Verifier],
        certificates: CertificateSource | None = None,
        anonymous_dialect: Dialect | None = None,
        waves_api_key_mode: bool = False,
        qiwi_http_200: bool = False,
        clock: WallClock = time.time,
        audit: AuditSink | None = None,
    ) -> None:
        self.catalog = catalog
        self.verifiers = tuple(verifiers)
        self.certificates = certificates
        self.anonymous_dialect: Dialect = anonymous_dialect or "propusk"
        self.waves_api_key_mode = waves_api_key_mode
        self.qiwi_http_200 = qiwi_http_200
        self.clock = clock
        self.audit: AuditSink = audit or LogAudit()

    # -- the steps ---------------------------------------------------------------------

    def route(self, request: RequestView) -> tuple[Target, RequestView]:
        """Step 1: the request's route, and the view marked for XML-API routes."""
        target = target_of(request.method, request.path, self.catalog)
        method = target.method
        if method is not None and method.dialect == "qiwi-xml":
            request = replace(request, extra={**request.extra, ROUTE_DIALECT: "qiwi-xml"})
        return target, request

    async def identify(
        self,
        request: RequestView,
        *,
        body: BodyReader | None = None,
        only: frozenset[AuthMethod] | None = None,
    ) -> Principal | None:
        """Steps 2 and 3 alone: the Principal the request's credential proves, None when
        it carries none; the verifier's PropuskError when it proves nothing. ``only``
        limits the kinds looked for (the server's own API takes account tokens only)."""
        _, principal, error = await self._find(request, body, only)
        if error is not None:
            raise error
        return principal

    async def _find(
        self, request: RequestView, body: BodyReader | None, only: frozenset[AuthMethod] | None
    ) -> tuple[Verifier | None, Principal | None, PropuskError | None]:
        for verifier in self.verifiers:
            if only is not None and verifier.method not in only:
                continue
            try:
                if request.body is None and body is not None and verifier.wants_body(request):
                    # Capped by the adapter; too large or malformed is this verifier's refusal.
                    request = replace(request, body=await body())
                if not verifier.present(request):
                    continue
                principal = await verifier.verify(request)
                self._check_binding(principal, request)
            except PropuskError as exc:
                return verifier, None, exc
            return verifier, principal, None
        return None, None, None

    def _check_binding(self, principal: Principal, request: RequestView) -> None:
        bound = principal.cert_thumbprint
        if bound is None or principal.method == "mtls":
            return
        presented = self.certificates.presented(request) if self.certificates else None
        if not same_thumbprint(bound, presented):
            raise InvalidToken(detail="certificate-bound token without its certificate")

    async def check(
        self, request: RequestView, *, body: BodyReader | None = None, entry: str = "guard"
    ) -> Passed | Refusal:
        """All five steps: the request passes, or is refused in its dialect."""
        target, request = self.route(request)
        verifier, principal, error = await self._find(request, body, None)
        if error is not None:
            return self.refuse(error, request, target, entry=entry, verifier=verifier)
        decision = decide(principal, target, self.catalog)
        if not decision.allowed:
            error = decision.error()
            assert error is not None
            return self.refuse(
                error,
                request,
                target,
                entry=entry,
                verifier=verifier,
                principal=principal,
                decision=decision,
            )
        return Passed(principal, decision)

    # -- refusals ----------------------------------------------------------------------

    def dialect_of(self, target: Target | None, verifier: Verifier | None) -> Dialect:
        """The route's dialect; where it names none, the credential's; else the default."""
        method = target.method if target is not None else None
        if method is not None and method.dialect is not None:
            return method.dialect
        if verifier is not None:
            return verifier.dialect or "propusk"
        return self.anonymous_dialect

    def refuse(
        self,
        error: PropuskError,
        request: RequestView,
        target: Target | None,
        *,
        entry: str,
        verifier: Verifier | None = None,
        principal: Principal | None = None,
        decision: Decision | None = None,
    ) -> Refusal:
        """The refusal of ``error`` in the right dialect, reported to the audit sink."""
        dialect = self.dialect_of(target, verifier)
        presented = verifier.method if verifier is not None else None
        if dialect == "waves":
            error = waves_error(
                error,
                presented=presented,
                principal=principal,
                route_method=target.method.name if target and target.method else None,
                catalog=self.catalog,
                api_key_mode=self.waves_api_key_mode,
            )
        why = decision.reason if decision is not None else (error.detail or error.code)
        self.audit.refused(entry, request.method, request.path, presented, error.code, why)
        return Refusal(error, dialect, presented, decision)

    def answer(self, refusal: Refusal) -> Answer:
        """The bytes of a refusal (:func:`propusk.guard.dialects.render`)."""
        return render(
            refusal.error, refusal.dialect, now=self.clock(), qiwi_http_200=self.qiwi_http_200
        )
