"""The Propusk client SDK: ``httpx.Auth`` flows for every credential kind."""

from __future__ import annotations

from propusk.client.auth import AuthError, PasswordAuth, RefreshTokenAuth, Tokens

__all__ = ["AuthError", "PasswordAuth", "RefreshTokenAuth", "Tokens"]
