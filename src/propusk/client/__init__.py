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
from propusk.client.signatures import (
    DigitalSignatureAuth,
    HttpMessageSignatureAuth,
    load_signing_key,
)
from propusk.client.tls import client_ssl_context

__all__ = [
    "ApiKeyAuth",
    "AuthError",
    "DigitalSignatureAuth",
    "ExchangeError",
    "HttpMessageSignatureAuth",
    "PasswordAuth",
    "RefreshTokenAuth",
    "ServiceKeyAuth",
    "ServiceToken",
    "Tokens",
    "client_ssl_context",
    "load_service_private_key",
    "load_signing_key",
]
