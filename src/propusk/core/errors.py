"""One error root with stable machine codes.

Services raise these; the web edge maps them once to each protocol's envelope. ``message``
is safe to show a caller; ``detail`` is for logs only (never sent over the wire) and must
not contain secrets either.
"""

from __future__ import annotations

__all__ = [
    "AccountDisabled",
    "AuthServerUnavailable",
    "Conflict",
    "EmailNotConfirmed",
    "Forbidden",
    "InvalidCode",
    "InvalidCredentials",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidToken",
    "NotFound",
    "PayloadTooLarge",
    "PropuskError",
    "ServiceUnavailable",
    "TokenExpired",
    "TooManyAttempts",
    "Unauthenticated",
]


class PropuskError(Exception):
    """Root of every error Propusk raises on purpose."""

    code: str = "internal_error"
    status: int = 500
    message: str = "Internal error"

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        self.message = message or type(self).message
        self.detail = detail
        super().__init__(self.message)


class InvalidRequest(PropuskError):
    code = "invalid_request"
    status = 400
    message = "The request is malformed"


class PayloadTooLarge(PropuskError):
    code = "payload_too_large"
    status = 413
    message = "The request body is too large"


class Unauthenticated(PropuskError):
    code = "unauthenticated"
    status = 401
    message = "Authentication is required"


class InvalidCredentials(PropuskError):
    code = "invalid_credentials"
    status = 401
    message = "Invalid username or password"


class InvalidToken(PropuskError):
    code = "invalid_token"
    status = 401
    message = "The token is invalid"


class InvalidSignature(InvalidToken):
    """A signed request or assertion that does not verify: one code for every kind of
    signature (each kind may word its message; the reason stays in ``detail``)."""

    code = "invalid_signature"
    message = "The request signature is not valid"


class TokenExpired(InvalidToken):
    code = "token_expired"
    message = "The token has expired"


class InvalidCode(PropuskError):
    """A one-time e-mail code (confirmation, password reset) that is wrong, spent or old."""

    code = "invalid_code"
    status = 400
    message = "The code is invalid or has expired"


class EmailNotConfirmed(PropuskError):
    code = "email_not_confirmed"
    status = 403
    message = "The e-mail address is not confirmed yet"


class AccountDisabled(PropuskError):
    code = "account_disabled"
    status = 403
    message = "The account is disabled"


class Forbidden(PropuskError):
    code = "forbidden"
    status = 403
    message = "Not allowed"


class NotFound(PropuskError):
    code = "not_found"
    status = 404
    message = "Not found"


class Conflict(PropuskError):
    code = "conflict"
    status = 409
    message = "The resource already exists"


class ServiceUnavailable(PropuskError):
    """A backend Propusk needs (the database, Redis, the authorization server) cannot be
    reached: the caller should retry after ``retry_after`` seconds. Raised for outages,
    never for the caller's mistakes; the backend's name goes to ``detail`` (logs only)."""

    code = "unavailable"
    status = 503
    message = "The service is temporarily unavailable, try again shortly"

    def __init__(
        self, message: str | None = None, *, detail: str | None = None, retry_after: int = 2
    ) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = max(1, retry_after)


class AuthServerUnavailable(ServiceUnavailable):
    """An embedded guard cannot reach the Propusk server (JWKS, introspection)."""

    code = "auth_unavailable"
    message = "The authorization server cannot be reached"


class TooManyAttempts(PropuskError):
    code = "too_many_attempts"
    status = 429
    message = "Too many attempts, try again later"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
