"""Token endpoints: login, service tokens, refresh, logout, and the verification keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import Field

from propusk.core.keys import public_key_spki_b64
from propusk.services.sessions import TokenPair
from propusk.web.api.models import Request, Str, TokenResponse
from propusk.web.deps import BearerPrincipal, OriginDep, ServicesDep
from propusk.web.mtls import CertificateBinding

router = APIRouter(tags=["auth"])


def _tokens(pair: TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
    }


class LoginRequest(Request):
    username: Annotated[Str, Field(max_length=320)]
    password: Str


@router.post("/v1/auth/login", response_model=TokenResponse)
async def login(
    body: LoginRequest, services: ServicesDep, origin: OriginDep, bound_to: CertificateBinding
) -> Any:
    pair = await services.sessions.login(
        body.username, body.password, origin, cert_thumbprint=bound_to
    )
    return _tokens(pair)


class ServiceTokenRequest(Request):
    name: Annotated[Str | None, Field(max_length=255)] = None
    roles: Annotated[list[Annotated[Str, Field(max_length=64)]] | None, Field(max_length=16)] = None


@router.post("/v1/auth/token", response_model=TokenResponse)
async def service_token(
    principal: BearerPrincipal,
    services: ServicesDep,
    origin: OriginDep,
    body: Annotated[ServiceTokenRequest | None, Body()] = None,
) -> Any:
    """Tokens for a service or application; the caller must hold the admin role. The Waves
    contract sends no body; Propusk optionally takes a ``name`` and ``roles``."""
    body = body or ServiceTokenRequest()
    pair = await services.sessions.issue_service_tokens(principal, body.name, body.roles, origin)
    return _tokens(pair)


class RefreshRequest(Request):
    token: Annotated[Str, Field(max_length=128)]


@router.post("/v1/auth/refresh", response_model=TokenResponse)
async def refresh(
    body: RefreshRequest, services: ServicesDep, origin: OriginDep, bound_to: CertificateBinding
) -> Any:
    return _tokens(await services.sessions.refresh(body.token, origin, cert_thumbprint=bound_to))


@router.post("/v1/auth/logout")
async def logout(body: RefreshRequest, services: ServicesDep, origin: OriginDep) -> dict[str, str]:
    await services.sessions.logout(body.token, origin)
    return {"message": "Logged out"}


@router.get("/v1/auth/publicKey")
async def public_key(services: ServicesDep) -> dict[str, str]:
    """The active signing key as Base64 DER SubjectPublicKeyInfo: paste it into a Waves
    node's ``auth.public-key`` setting."""
    return {"publicKey": public_key_spki_b64(await services.keyring.active_public_key())}


@router.get("/.well-known/jwks.json")
async def jwks(services: ServicesDep) -> dict[str, Any]:
    return await services.keyring.jwks()
