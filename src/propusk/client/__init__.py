"""The Propusk client SDK: ``httpx.Auth`` flows for every credential kind."""

from __future__ import annotations

from propusk.client.api_keys import ApiKeyAuth
from propusk.client.auth import AuthError, PasswordAuth, RefreshTokenAuth, Tokens
from propusk.client.service_keys import (
    ExchangeError,
    ServiceKeyAuth,
    ServiceToken,
    load_service_private_key,
)

__all__ = [
    "ApiKeyAuth",
    "AuthError",
    "ExchangeError",
    "PasswordAuth",
    "RefreshTokenAuth",
    "ServiceKeyAuth",
    "ServiceToken",
    "Tokens",
    "load_service_private_key",
]
