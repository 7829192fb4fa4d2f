"""The account API, wire-compatible with the Waves Enterprise authorization service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field, model_validator

from propusk.core.errors import InvalidRequest
from propusk.web.api.models import Message, Request, Str
from propusk.web.deps import BearerPrincipal, OriginDep, ServicesDep

router = APIRouter(prefix="/v1/user", tags=["users"])


class RegisterRequest(Request):
    # Waves documents ``login``; real clients send ``username``. Either is accepted.
    login: Annotated[Str | None, Field(max_length=320)] = None
    username: Annotated[Str | None, Field(max_length=320)] = None
    password: Str
    locale: Annotated[Str, Field(max_length=8)] = "en"
    source: Annotated[Str, Field(max_length=64)] = "license"

    @model_validator(mode="after")
    def _one_login(self) -> RegisterRequest:
        if not (self.login or self.username):
            raise ValueError("login (or username) is required")
        if self.login and self.username and self.login != self.username:
            raise ValueError("login and username differ")
        return self

    @property
    def email(self) -> str:
        return self.login or self.username or ""


class RegisterResponse(Request):
    id: str
    login: str
    confirmed: bool


@router.post("", status_code=201, response_model=RegisterResponse)
async def register(body: RegisterRequest, services: ServicesDep, origin: OriginDep) -> Any:
    account = await services.accounts.register(
        body.email, body.password, body.locale, body.source, origin
    )
    return {"id": account.id, "login": account.email, "confirmed": False}


@router.get("/profile")
async def profile(principal: BearerPrincipal, services: ServicesDep) -> dict[str, Any]:
    p = await services.accounts.profile(principal.subject)
    return {
        "id": p.id,
        "login": p.email,
        "email": p.email,
        "name": p.name,
        "type": p.kind,
        "locale": p.locale,
        "source": p.source,
        "status": p.status,
        "confirmed": p.confirmed,
        "roles": list(p.roles),
        "addresses": list(p.addresses),
        "createdAt": p.created_at.isoformat(),
    }


@router.get("/confirm/{code}", response_model=Message)
async def confirm(
    code: Annotated[str, Path(max_length=128)], services: ServicesDep, origin: OriginDep
) -> Any:
    await services.accounts.confirm(code, origin)
    return {"message": "The e-mail address is confirmed"}


class EmailRequest(Request):
    email: Annotated[Str | None, Field(max_length=320)] = None
    login: Annotated[Str | None, Field(max_length=320)] = None
    username: Annotated[Str | None, Field(max_length=320)] = None
    source: Annotated[Str | None, Field(max_length=64)] = None

    @property
    def address(self) -> str:
        value = self.email or self.login or self.username
        if not value:
            raise InvalidRequest("email is required")
        return value


@router.post("/resendEmail", response_model=Message)
async def resend(body: EmailRequest, services: ServicesDep, origin: OriginDep) -> Any:
    await services.accounts.resend_confirmation(body.address, origin)
    return {"message": "If the account exists and is not confirmed, a new e-mail was sent"}


@router.post("/password/restore", response_model=Message)
async def restore(body: EmailRequest, services: ServicesDep, origin: OriginDep) -> Any:
    await services.accounts.request_password_reset(body.address, body.source, origin)
    return {"message": "If the account exists, a reset e-mail was sent"}


class ResetRequest(Request):
    token: Annotated[Str, Field(max_length=128)]
    password: Str


@router.post("/password/reset", response_model=Message)
async def reset(body: ResetRequest, services: ServicesDep, origin: OriginDep) -> Any:
    await services.accounts.reset_password(body.token, body.password, origin)
    return {"message": "The password is changed"}


class ChangeRequest(Request):
    password: Str
    passwordRepeat: Str


@router.post("/password/change", response_model=Message)
async def change(
    body: ChangeRequest, principal: BearerPrincipal, services: ServicesDep, origin: OriginDep
) -> Any:
    await services.accounts.change_password(
        principal.subject, body.password, body.passwordRepeat, origin
    )
    return {"message": "The password is changed"}


class AddressRequest(Request):
    address: Annotated[Str, Field(max_length=128)]
    name: Annotated[Str, Field(max_length=255)]


@router.post("/address")
async def add_address(
    body: AddressRequest, principal: BearerPrincipal, services: ServicesDep, origin: OriginDep
) -> dict[str, str]:
    address_id = await services.accounts.add_address(
        principal.subject, body.address, body.name, origin
    )
    return {"addressId": address_id}


@router.get("/address/exists")
async def address_exists(
    services: ServicesDep,
    origin: OriginDep,
    email: Annotated[str, Query(max_length=320)],
) -> dict[str, bool]:
    """Whether the address is registered; limited like logins (429 + Retry-After)."""
    return {"exist": await services.accounts.email_exists(email, origin)}
