"""Accounts: registration, e-mail confirmation, passwords, addresses and roles."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.config import Settings
from propusk.core.errors import Conflict, InvalidCode, InvalidRequest, NotFound
from propusk.core.identifiers import check_address, check_locale, check_source, normalize_email
from propusk.core.opaque import digest, make_secret
from propusk.services.account_rows import (
    add_account,
    addresses_of,
    checked_roles,
    new_account,
    revoke_all_refresh_tokens,
    roles_of,
)
from propusk.services.audit import Actor, Origin
from propusk.services.base import UseCase
from propusk.services.mail import Mailer
from propusk.services.passwords import PasswordService
from propusk.services.throttle import LookupThrottle, MailThrottle
from propusk.services.views import view_of
from propusk.storage.models import Account, AccountRole, Address, EmailToken

__all__ = ["CONFIRM_PREFIX", "RESET_PREFIX", "Accounts", "Profile", "addresses_of", "roles_of"]

CONFIRM_PREFIX = "propusk_ec_"
RESET_PREFIX = "propusk_pr_"


@dataclass(frozen=True)
class Profile:
    id: str
    email: str | None
    name: str | None
    kind: str
    locale: str
    source: str
    status: str
    confirmed: bool
    roles: tuple[str, ...]
    addresses: tuple[dict[str, str], ...]
    created_at: datetime


@dataclass(eq=False, repr=False)
class Accounts(UseCase):
    """People's accounts: registration, confirmation, passwords, addresses and roles."""

    mailer: Mailer
    passwords: PasswordService
    settings: Settings
    mail_throttle: MailThrottle
    lookup_throttle: LookupThrottle

    # -- registration and confirmation ------------------------------------------------

    async def register(
        self, email: str, password: str, locale: str, source: str, origin: Origin
    ) -> Account:
        email = normalize_email(email)
        check_locale(locale)
        check_source(source)
        password_hash = await self.passwords.hash(password)
        now = self.clock.now()
        account = new_account(now, "person", email, password_hash, locale, source)
        try:
            async with self.db.session() as session:
                await add_account(session, account, ["user"])
                code = await self._new_email_token(session, account.id, "confirm")
                by = Actor(account.id, origin)
                self.audit.change(
                    session, "account.registered", by, ("account", account.id), {"source": source}
                )
        except IntegrityError:
            raise Conflict("An account with this e-mail already exists") from None
        await self._send_confirmation(email, code, source)
        return account

    async def _new_email_token(self, session: AsyncSession, account_id: str, purpose: str) -> str:
        now = self.clock.now()
        # A new code supersedes the unused ones of the same purpose.
        await session.execute(
            update(EmailToken)
            .where(
                EmailToken.account_id == account_id,
                EmailToken.purpose == purpose,
                EmailToken.used_at.is_(None),
            )
            .values(used_at=now)
        )
        prefix = CONFIRM_PREFIX if purpose == "confirm" else RESET_PREFIX
        ttl = (
            self.settings.confirmation_ttl
            if purpose == "confirm"
            else self.settings.reset_token_ttl
        )
        code = make_secret(prefix, secrets.token_bytes(32))
        session.add(
            EmailToken(
                id=str(uuid.uuid4()),
                account_id=account_id,
                purpose=purpose,
                digest=digest(code),
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        return code

    def _from_console(self, source: str | None) -> bool:
        """Mails for what was asked in the web console link to its pages, which take the
        code in a form (a JSON answer would strand a person there)."""
        return source == "console" and self.settings.console

    async def _send_confirmation(self, email: str, code: str, source: str | None = None) -> None:
        base = self.settings.effective_public_url
        if self._from_console(source):
            link = f"{base}/console/confirm/{code}"
        else:
            link = f"{base}/v1/user/confirm/{code}"
        await self.mailer.send(
            email,
            "Confirm your e-mail address",
            f"Open this link to confirm your account:\n\n{link}\n\n"
            "If you did not register, ignore this message.\n",
        )

    async def _use_email_token(self, session: AsyncSession, code: str, purpose: str) -> EmailToken:
        """Spend a single-use code atomically; a second use or an expired code fails."""
        now = self.clock.now()
        row = await session.scalar(
            select(EmailToken).where(
                EmailToken.digest == digest(code), EmailToken.purpose == purpose
            )
        )
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise InvalidCode()
        claimed = await session.execute(
            update(EmailToken)
            .where(EmailToken.id == row.id, EmailToken.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidCode()
        return row

    async def confirm(self, code: str, origin: Origin) -> None:
        if not code.startswith(CONFIRM_PREFIX) or len(code) > 128:
            raise InvalidCode()
        async with self.db.session() as session:
            token = await self._use_email_token(session, code, "confirm")
            account = await session.get(Account, token.account_id)
            assert account is not None
            if account.email_confirmed_at is None:
                account.email_confirmed_at = self.clock.now()
            by = Actor(account.id, origin)
            self.audit.change(session, "account.confirmed", by, ("account", account.id))

    async def resend_confirmation(self, email: str, origin: Origin) -> None:
        """Send a new code if the account exists and is unconfirmed; silent otherwise,
        so the answer does not tell which addresses are registered."""
        email = normalize_email(email)
        if not await self.mail_throttle.allow(email, origin.ip):
            return
        async with self.db.session() as session:
            account = await session.scalar(select(Account).where(Account.email == email))
            if account is None or account.email_confirmed_at is not None:
                return
            code = await self._new_email_token(session, account.id, "confirm")
            source = account.source  # a console sign-up gets the console's link again
            self.audit.add(
                session, "account.confirmation_resent", actor_id=account.id, origin=origin
            )
        await self._send_confirmation(email, code, source)

    # -- passwords --------------------------------------------------------------------

    async def request_password_reset(self, email: str, source: str | None, origin: Origin) -> None:
        email = normalize_email(email)
        if not await self.mail_throttle.allow(email, origin.ip):
            return
        async with self.db.session() as session:
            account = await session.scalar(
                select(Account).where(Account.email == email, Account.kind == "person")
            )
            if account is None:
                return
            code = await self._new_email_token(session, account.id, "reset")
            data = {"source": source} if source else None
            event = "account.password_reset_requested"
            self.audit.add(session, event, actor_id=account.id, origin=origin, data=data)
        await self.mailer.send(
            email,
            "Reset your password",
            (
                "Enter this code on the console's new-password page "
                f"({self.settings.effective_public_url}/console/password/reset):\n\n"
                if self._from_console(source)
                else "Use this code to set a new password (POST /v1/user/password/reset):\n\n"
            )
            + f"{code}\n\nIt works once and expires in "
            f"{self.settings.reset_token_ttl // 60} minutes. "
            "If you did not ask for it, ignore this message.\n",
        )

    async def reset_password(self, code: str, password: str, origin: Origin) -> None:
        if not code.startswith(RESET_PREFIX) or len(code) > 128:
            raise InvalidCode()
        new_hash = await self.passwords.hash(password)
        async with self.db.session() as session:
            token = await self._use_email_token(session, code, "reset")
            account = await session.get(Account, token.account_id)
            assert account is not None
            now = self.clock.now()
            account.password_hash = new_hash
            account.updated_at = now
            # Following a reset link proves control of the mailbox.
            account.email_confirmed_at = account.email_confirmed_at or now
            await revoke_all_refresh_tokens(session, account.id, now)
            self.audit.add(session, "account.password_reset", actor_id=account.id, origin=origin)

    async def change_password(
        self, account_id: str, password: str, repeat: str, origin: Origin
    ) -> None:
        if not secrets.compare_digest(password.encode(), repeat.encode()):
            raise InvalidRequest("password and passwordRepeat differ")
        new_hash = await self.passwords.hash(password)
        async with self.db.session() as session:
            account = await session.get(Account, account_id)
            if account is None or account.kind != "person":
                raise NotFound("No such account")
            now = self.clock.now()
            account.password_hash = new_hash
            account.updated_at = now
            await revoke_all_refresh_tokens(session, account.id, now)
            self.audit.add(session, "account.password_changed", actor_id=account.id, origin=origin)

    # -- profile, addresses, roles ----------------------------------------------------

    async def profile(self, account_id: str) -> Profile:
        async with self.db.read() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound("No such account")
            return view_of(
                Profile,
                account,
                confirmed=account.email_confirmed_at is not None,
                roles=await roles_of(session, account.id),
                addresses=await addresses_of(session, account.id),
            )

    async def add_address(self, account_id: str, address: str, name: str, origin: Origin) -> str:
        check_address(address)
        if not 1 <= len(name) <= 255:
            raise InvalidRequest("name must be 1-255 characters")
        row = Address(
            id=str(uuid.uuid4()),
            account_id=account_id,
            address=address,
            name=name,
            type="node",
            created_at=self.clock.now(),
        )
        try:
            async with self.db.session() as session:
                session.add(row)
                by = Actor(account_id, origin)
                self.audit.change(
                    session, "account.address_added", by, ("address", row.id), {"address": address}
                )
        except IntegrityError:
            raise Conflict("This address is already registered for the account") from None
        return row.id

    async def email_exists(self, email: str, origin: Origin) -> bool:
        """Whether an account has this e-mail address; look-ups are limited per address
        and per ``origin.ip`` (429 beyond), since every answer reveals an account."""
        email = normalize_email(email)
        await self.lookup_throttle.check(email, origin.ip)
        async with self.db.read() as session:
            count = await session.scalar(
                select(func.count()).select_from(Account).where(Account.email == email)
            )
            return bool(count)

    async def find_id_by_email(self, email: str) -> str:
        email = normalize_email(email)
        async with self.db.read() as session:
            account_id = await session.scalar(select(Account.id).where(Account.email == email))
        if account_id is None:
            raise NotFound("No such account")
        return account_id

    async def set_roles(
        self, actor_id: str | None, account_id: str, roles: Sequence[str], origin: Origin
    ) -> list[str]:
        wanted = checked_roles(roles, self.settings.roles)
        async with self.db.session() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound("No such account")
            before = await roles_of(session, account_id)
            await session.execute(delete(AccountRole).where(AccountRole.account_id == account_id))
            session.add_all(AccountRole(account_id=account_id, role=r) for r in wanted)
            data = {"before": before, "after": wanted}
            by = Actor(actor_id, origin)
            self.audit.change(session, "account.roles_changed", by, ("account", account_id), data)
        self.changes.changed("account", account_id)  # its access tokens, in every process
        return wanted

    async def create_admin(self, email: str, password: str, origin: Origin) -> tuple[str, bool]:
        """Bootstrap an administrator: a confirmed account with roles user and admin.

        If the account exists it is given the admin role and counts as confirmed (the
        operator vouches for it); its password is left alone. Returns the account id and
        whether it was created.
        """
        email = normalize_email(email)
        async with self.db.session() as session:
            existing = await session.scalar(select(Account).where(Account.email == email))
            if existing is not None:
                current = await roles_of(session, existing.id)
                by, target = Actor(None, origin, type="system"), ("account", existing.id)
                if "admin" not in current:
                    session.add(AccountRole(account_id=existing.id, role="admin"))
                    data = {"before": current, "after": sorted([*current, "admin"])}
                    self.audit.change(session, "account.roles_changed", by, target, data)
                if existing.email_confirmed_at is None:
                    existing.email_confirmed_at = self.clock.now()
                    self.audit.change(
                        session, "account.confirmed", by, target, {"by": "admin create"}
                    )
                return existing.id, False
        password_hash = await self.passwords.hash(password)
        now = self.clock.now()
        account = new_account(now, "person", email, password_hash, "en", "admin", confirmed_at=now)
        async with self.db.session() as session:
            await add_account(session, account, ["user", "admin"])
            by = Actor(None, origin, type="system")
            self.audit.change(session, "account.admin_created", by, ("account", account.id))
        return account.id, True
