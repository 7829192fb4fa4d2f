"""An account's rows beside its own: its global roles, its addresses, its refresh tokens,
and a new account with its roles. Shared by :mod:`propusk.services.accounts` and
:mod:`propusk.services.sessions` (which makes service accounts)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.core.errors import InvalidRequest
from propusk.storage.models import Account, AccountRole, Address, RefreshToken

__all__ = [
    "add_account",
    "addresses_of",
    "checked_roles",
    "new_account",
    "revoke_all_refresh_tokens",
    "roles_of",
]


async def roles_of(session: AsyncSession, account_id: str) -> list[str]:
    """The account's global roles, sorted (what its access tokens carry)."""
    rows = await session.scalars(
        select(AccountRole.role).where(AccountRole.account_id == account_id)
    )
    return sorted(rows)


async def addresses_of(session: AsyncSession, account_id: str) -> list[dict[str, str]]:
    """The account's node addresses, oldest first, as its access tokens list them."""
    rows = await session.scalars(
        select(Address).where(Address.account_id == account_id).order_by(Address.created_at)
    )
    return [{"address": a.address, "type": a.type, "name": a.name} for a in rows]


async def revoke_all_refresh_tokens(session: AsyncSession, account_id: str, now: datetime) -> None:
    """End every session of the account (after its password changed)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def new_account(
    now: datetime,
    kind: str,
    email: str | None,
    password_hash: str | None,
    locale: str,
    source: str,
    *,
    name: str | None = None,
    owner_id: str | None = None,
    confirmed_at: datetime | None = None,
) -> Account:
    """A new active account (a ``person`` or a ``service``), made ``now``."""
    return Account(
        id=str(uuid.uuid4()),
        email=email,
        password_hash=password_hash,
        kind=kind,
        name=name,
        locale=locale,
        source=source,
        status="active",
        owner_id=owner_id,
        email_confirmed_at=confirmed_at,
        created_at=now,
        updated_at=now,
    )


async def add_account(session: AsyncSession, account: Account, roles: Iterable[str]) -> None:
    """Insert ``account`` with its global ``roles`` (flushed first: roles refer to it)."""
    session.add(account)
    await session.flush()
    session.add_all(AccountRole(account_id=account.id, role=r) for r in roles)


def checked_roles(roles: Iterable[str], known: Sequence[str]) -> list[str]:
    """The global roles asked for plus ``user`` (every account has it), sorted; an unknown
    role is an InvalidRequest."""
    wanted = sorted(set(roles) | {"user"})
    unknown = [r for r in wanted if r not in known]
    if unknown:
        raise InvalidRequest(f"unknown roles: {', '.join(unknown)}")
    return wanted
