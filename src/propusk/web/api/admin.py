"""Administration of accounts: look-up and role assignment (admin role required)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from propusk.web.api.models import AccountId, Request, Str
from propusk.web.deps import AdminPrincipal, OriginDep, ServicesDep

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/accounts")
async def find_account(
    admin: AdminPrincipal,
    services: ServicesDep,
    email: Annotated[str, Query(max_length=320)],
) -> dict[str, Any]:
    account_id = await services.accounts.find_id_by_email(email)
    p = await services.accounts.profile(account_id)
    return {
        "id": p.id,
        "email": p.email,
        "roles": list(p.roles),
        "status": p.status,
        "confirmed": p.confirmed,
    }


class RolesRequest(Request):
    roles: Annotated[list[Annotated[Str, Field(max_length=64)]], Field(max_length=32)]


@router.put("/accounts/{account_id}/roles")
async def set_roles(
    account_id: AccountId,
    body: RolesRequest,
    admin: AdminPrincipal,
    services: ServicesDep,
    origin: OriginDep,
) -> dict[str, list[str]]:
    roles = await services.accounts.set_roles(admin.subject, account_id, body.roles, origin)
    return {"roles": roles}
