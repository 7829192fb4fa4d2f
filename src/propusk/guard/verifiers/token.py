"""The shape shared by every credential that is one token in one header: find the token,
hand it to a :class:`~propusk.guard.ports.TokenVerifier` (the server's service, or a
remote verifier), return the Principal it proves."""

from __future__ import annotations

from propusk.core.catalog import Dialect
from propusk.core.errors import InvalidToken
from propusk.core.principals import AuthMethod, Principal
from propusk.guard.ports import TokenVerifier
from propusk.guard.request import RequestView

__all__ = ["TokenCredential"]


class TokenCredential:
    """Base of the token verifiers; a subclass says where its token is (:meth:`token`)."""

    method: AuthMethod
    dialect: Dialect | None = None

    def __init__(self, tokens: TokenVerifier) -> None:
        self.tokens = tokens

    def token(self, request: RequestView) -> str | None:
        """The presented token (maybe empty), or None when this kind is absent."""
        raise NotImplementedError

    def present(self, request: RequestView) -> bool:
        return self.token(request) is not None

    def wants_body(self, request: RequestView) -> bool:
        return False

    async def verify(self, request: RequestView) -> Principal:
        token = self.token(request)
        if not token:
            # Present but empty: refused here, never passed on as "no credential".
            raise InvalidToken(detail=f"empty {self.method} credential")
        return await self.tokens.verify(token)
