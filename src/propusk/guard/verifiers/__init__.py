"""One verifier per credential kind: find the credential in a request, verify it, and
return the Principal it proves.

A verifier is asked in two steps, so that a present-but-wrong credential never falls
through to another kind: :meth:`Verifier.present` (cheap: headers, at most the parsed XML
body) says whether the request carries this kind's credential; :meth:`Verifier.verify`
then decides, returning a Principal or raising a
:class:`~propusk.core.errors.PropuskError`. The gate asks the verifiers in the order of
its table and stops at the first one present.
"""

from __future__ import annotations

from typing import Protocol

from propusk.core.catalog import Dialect
from propusk.core.principals import AuthMethod, Principal
from propusk.guard.request import RequestView

__all__ = ["Verifier"]


class Verifier(Protocol):
    """One credential kind. ``method`` is what ``X-Propusk-Auth`` says when it decides;
    ``dialect`` is the protocol its clients speak, for refusals on routes that name none
    (None: Propusk's own)."""

    @property
    def method(self) -> AuthMethod: ...

    @property
    def dialect(self) -> Dialect | None: ...

    def present(self, request: RequestView) -> bool:
        """Does the request carry this kind's credential?"""
        ...

    def wants_body(self, request: RequestView) -> bool:
        """Must the gate read the body before :meth:`verify` (signed requests)?"""
        ...

    async def verify(self, request: RequestView) -> Principal:
        """The Principal the credential proves; a PropuskError when it proves nothing."""
        ...
