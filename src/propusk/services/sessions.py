"""Token issuance: login, refresh with rotation and reuse detection, logout, service tokens,
and verification of access tokens into a Principal."""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal, NoReturn

from joserfc.jwk import RSAKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.config import Settings
from propusk.core.cnf import CNF_CLAIM, cnf_claim
from propusk.core.errors import (
    AccountDisabled,
    EmailNotConfirmed,
    Forbidden,
    InvalidCredentials,
    InvalidRequest,
    InvalidToken,
    PropuskError,
    ServiceUnavailable,
)
from propusk.core.identifiers import normalize_email
from propusk.core.opaque import digest, make_secret, successor_secret
from propusk.core.principals import Principal
from propusk.core.tokens import UnknownKeyId, issue_access_token, verify_access_token
from propusk.services.account_rows import (
    add_account,
    addresses_of,
    checked_roles,
    new_account,
    roles_of,
)
from propusk.services.audit import Actor, Origin
from propusk.services.base import UseCase
from propusk.services.keyring import Keyring
from propusk.services.node_cache import MISS, Miss, NodeCache
from propusk.services.passwords import PasswordService
from propusk.services.throttle import LoginThrottle
from propusk.storage.models import Account, RefreshToken

log = logging.getLogger("propusk.sessions")

__all__ = ["REFRESH_PREFIX", "Sessions", "TokenPair"]

REFRESH_PREFIX = "propusk_rt_"
_MAX_REFRESH_LEN = 128


@dataclass(frozen=True)
class TokenPair:
    """What a login or refresh answers: an access token and the refresh token after it."""

    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class _AccountState:
    """What an access token's verification checks against the account as it is now."""

    active: bool
    roles: frozenset[str]


@dataclass(eq=False, repr=False)
class Sessions(UseCase):
    """Account sign-in: token pairs, their rotation and revocation, and access tokens."""

    keyring: Keyring
    passwords: PasswordService
    throttle: LoginThrottle
    settings: Settings

    def __post_init__(self) -> None:
        # The account state access tokens are checked against, per process, for at most
        # key_state_ttl; a role change is announced (every process forgets it at once).
        self._states: NodeCache[str, _AccountState] = NodeCache(self.settings.key_state_ttl)
        self.changes.on("account", self._states.forget, self._states.clear)

    # -- issuing ----------------------------------------------------------------------

    async def _issue(
        self,
        session: AsyncSession,
        key: RSAKey,
        account: Account,
        *,
        cert_thumbprint: str | None = None,
        parent: RefreshToken | None = None,
        refresh: str | None = None,
    ) -> TokenPair:
        """Sign an access token with ``key`` and store a new refresh token in ``session``
        (``refresh``, or a random one).

        ``cert_thumbprint`` binds the access token to the certificate of this connection.
        The refresh token starts a family (a login), or continues the family of ``parent``
        (a rotation). A family is bound to the certificate of the login that started it,
        if any, and every rotation inherits that binding.

        The caller takes ``key`` from the keyring *before* opening ``session``: a keyring
        reload opens a unit of work of its own, and on SQLite that one would wait for the
        write lock ``session`` holds — a deadlock until the busy timeout.
        """
        access = await self._access_token(session, key, account, cert_thumbprint)
        refresh = refresh or make_secret(REFRESH_PREFIX, secrets.token_bytes(32))
        now = self.clock.now()
        session.add(
            RefreshToken(
                id=str(uuid.uuid4()),
                account_id=account.id,
                family_id=parent.family_id if parent else str(uuid.uuid4()),
                parent_id=parent.id if parent else None,
                digest=digest(refresh),
                issued_at=now,
                expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl),
                cert_thumbprint=parent.cert_thumbprint if parent else cert_thumbprint,
            )
        )
        return TokenPair(access, refresh, self.settings.access_token_ttl)

    async def _access_token(
        self, session: AsyncSession, key: RSAKey, account: Account, cert_thumbprint: str | None
    ) -> str:
        """A new access token for ``account``, with its roles and addresses as of now."""
        now = self.clock.now()
        roles = await roles_of(session, account.id)
        addresses = await addresses_of(session, account.id)
        return issue_access_token(
            key,
            subject=account.id,
            roles=roles,
            addresses=addresses,
            issuer=self.settings.issuer,
            issued_at=int(now.timestamp()),
            ttl=self.settings.access_token_ttl,
            jti=str(uuid.uuid4()),
            # RFC 8705: bound to the client certificate of the login/refresh connection.
            extra={CNF_CLAIM: cnf_claim(cert_thumbprint)} if cert_thumbprint else None,
        )

    async def login(
        self, username: str, password: str, origin: Origin, *, cert_thumbprint: str | None = None
    ) -> TokenPair:
        """Password login. Unknown e-mail and wrong password fail the same way and take
        the same time (a dummy argon2 verify runs when there is no account). With
        ``cert_thumbprint`` the access token is bound to that client certificate."""
        try:
            email = normalize_email(username)
        except InvalidRequest:
            email = username.strip().lower()[:320]
        await self.throttle.check(email, origin.ip)
        async with self.db.read() as session:
            account = await session.scalar(
                select(Account).where(Account.email == email, Account.kind == "person")
            )
        if account is None:
            await self.passwords.dummy_verify(password)
            await self._failed(email, None, origin, "no_account")
        assert account is not None
        if not await self.passwords.verify(account.password_hash, password):
            await self._failed(email, account.id, origin, "bad_password")
        if account.status != "active":
            await self._refused(account.id, origin, "disabled", AccountDisabled())
        if self.settings.require_email_confirmation and account.email_confirmed_at is None:
            await self._refused(account.id, origin, "unconfirmed", EmailNotConfirmed())
        await self.throttle.succeeded(email)
        upgraded = account.password_hash is not None and self.passwords.needs_rehash(
            account.password_hash
        )
        new_hash = await self.passwords.hash(password) if upgraded else None
        key = await self.keyring.signing_key()
        async with self.db.session() as session:
            if new_hash is not None:
                # Conditional on the hash we verified, so a concurrent password change wins.
                await session.execute(
                    update(Account)
                    .where(Account.id == account.id, Account.password_hash == account.password_hash)
                    .values(password_hash=new_hash, updated_at=self.clock.now())
                )
            pair = await self._issue(session, key, account, cert_thumbprint=cert_thumbprint)
            data = {"rehashed": True} if upgraded else None
            self.audit.add(session, "auth.login", actor_id=account.id, origin=origin, data=data)
        return pair

    async def _failed(
        self, email: str, account_id: str | None, origin: Origin, reason: str
    ) -> NoReturn:
        """A wrong e-mail or password: it counts towards the throttle."""
        await self.throttle.failed(email, origin.ip)
        await self._refused(account_id, origin, reason, InvalidCredentials())

    async def _refused(
        self, account_id: str | None, origin: Origin, reason: str, error: PropuskError
    ) -> NoReturn:
        """Audit a refused login (in a unit of work of its own) and raise ``error``."""
        data = {"reason": reason}
        await self.audit.record(
            "auth.login", actor_id=account_id, origin=origin, outcome="fail", data=data
        )
        raise error

    async def refresh(
        self, refresh_token: str, origin: Origin, *, cert_thumbprint: str | None = None
    ) -> TokenPair:
        """Rotate a refresh token. A spent token used again after the grace period means it
        leaked: the whole family is revoked and the event is audited."""
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > _MAX_REFRESH_LEN:
            raise InvalidToken("The refresh token is invalid")
        now = self.clock.now()
        key = await self.keyring.signing_key()
        # The successor is derived from the token itself: every presentation of one token
        # rotates it to the same successor, so there is exactly one, however many
        # requests race (docs/account-api.md, "Refresh tokens").
        successor = successor_secret(
            REFRESH_PREFIX, await self.keyring.api_key_pepper(), refresh_token
        )
        async with self.db.session() as session:
            row = await session.scalar(
                select(RefreshToken).where(RefreshToken.digest == digest(refresh_token))
            )
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise InvalidToken("The refresh token is invalid")
            if row.cert_thumbprint is not None and not hmac.compare_digest(
                row.cert_thumbprint, cert_thumbprint or ""
            ):
                # A family bound at login (RFC 8705) refreshes only with the same client
                # certificate; checked before the token is spent, so a thief holding the
                # refresh token alone neither gets a pair nor burns the owner's token.
                log.info("refresh refused: family bound to another client certificate")
                raise InvalidToken("The refresh token is invalid")
            claimed = await session.execute(
                update(RefreshToken)
                .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
                .values(used_at=now)
            )
            reuse: tuple[str, str] | None = None
            repeat = claimed.rowcount != 1  # type: ignore[attr-defined]
            if repeat:
                await session.refresh(row)
                assert row.used_at is not None
                # Inside the grace period a second use is a concurrent duplicate (two tabs,
                # a client retry) and gets the same successor; after it, the token leaked.
                if now - row.used_at > timedelta(seconds=self.settings.refresh_reuse_grace):
                    reuse = (row.family_id, row.account_id)
            if reuse is None:
                account = await session.get(Account, row.account_id)
                if account is None or account.status != "active":
                    raise InvalidToken("The refresh token is invalid")
                if repeat:
                    pair = await self._repeat(
                        session, key, account, row, successor, cert_thumbprint
                    )
                else:
                    pair = await self._issue(
                        session,
                        key,
                        account,
                        cert_thumbprint=cert_thumbprint,
                        parent=row,
                        refresh=successor,
                    )
                self.audit.add(session, "auth.refreshed", actor_id=account.id, origin=origin)
                return pair
        await self._revoke_family(reuse[0], reuse[1], origin, "auth.refresh_reuse_detected")
        raise InvalidToken("The refresh token is invalid")

    async def _repeat(
        self,
        session: AsyncSession,
        key: RSAKey,
        account: Account,
        parent: RefreshToken,
        successor: str,
        cert_thumbprint: str | None,
    ) -> TokenPair:
        """The answer to a repeated rotation within the grace period: the successor the
        first one stored (never a second one), with a fresh access token."""
        child = await session.scalar(
            select(RefreshToken).where(
                RefreshToken.digest == digest(successor), RefreshToken.parent_id == parent.id
            )
        )
        if child is None or child.revoked_at is not None:
            raise InvalidToken("The refresh token is invalid", detail="successor gone")
        access = await self._access_token(session, key, account, cert_thumbprint)
        return TokenPair(access, successor, self.settings.access_token_ttl)

    async def _revoke_family(
        self, family_id: str, account_id: str, origin: Origin, event: str
    ) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=self.clock.now())
            )
            by, target = Actor(account_id, origin), ("token_family", family_id)
            outcome = "fail" if "reuse" in event else "ok"  # a reuse is a detected theft
            self.audit.change(session, event, by, target, outcome=outcome)

    async def logout(self, refresh_token: str, origin: Origin) -> None:
        """Revoke the family of ``refresh_token``. Unknown tokens are accepted silently:
        logout is idempotent and must not reveal which tokens exist."""
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > _MAX_REFRESH_LEN:
            raise InvalidToken("The refresh token is invalid")
        async with self.db.read() as session:
            row = await session.scalar(
                select(RefreshToken).where(RefreshToken.digest == digest(refresh_token))
            )
        if row is not None:
            await self._revoke_family(row.family_id, row.account_id, origin, "auth.logout")

    async def issue_service_tokens(
        self, admin: Principal, name: str | None, roles: Sequence[str] | None, origin: Origin
    ) -> TokenPair:
        """Tokens for a service or application (``POST /v1/auth/token``).

        Creates a service account owned by the calling admin. Its roles default to
        ``user`` (least privilege); an admin may ask for more, but only roles it holds.
        """
        if not admin.has_role("admin"):
            raise Forbidden("Only an administrator may issue service tokens")
        wanted = checked_roles(roles or (), self.settings.roles)
        beyond = [r for r in wanted if r not in admin.roles]
        if beyond:
            raise Forbidden(f"roles the caller does not hold: {', '.join(beyond)}")
        now = self.clock.now()
        account = new_account(
            now, "service", None, None, "en", "service", name=name, owner_id=admin.subject
        )
        key = await self.keyring.signing_key()
        async with self.db.session() as session:
            owner = await session.get(Account, admin.subject)
            if owner is None or owner.status != "active":
                raise Forbidden("The calling account is not active")
            await add_account(session, account, wanted)
            pair = await self._issue(session, key, account)
            by = Actor(admin.subject, origin)
            self.audit.change(
                session, "auth.service_token_issued", by, ("account", account.id), {"roles": wanted}
            )
        return pair

    # -- verifying --------------------------------------------------------------------

    async def verify(self, token: str) -> Principal:
        """The guard's ``TokenVerifier`` protocol: verify with the local keyring."""
        return await self.verify_access(token)

    async def verify_access(self, token: str) -> Principal:
        now = int(self.clock.now().timestamp())
        issuer, leeway = self.settings.issuer, self.settings.token_leeway
        keys = await self.keyring.verification_keys()
        try:
            claims = verify_access_token(token, keys, issuer=issuer, now=now, leeway=leeway)
        except UnknownKeyId:
            # A key created by another node since this one last read the keyring.
            keys = await self.keyring.verification_keys(unknown_kid=True)
            claims = verify_access_token(token, keys, issuer=issuer, now=now, leeway=leeway)
        principal = claims.principal()
        # The token says who; the account as it is now says whether and with which roles:
        # a disabled account or a removed role stops working at once, not at the token's
        # exp (every process hears of a role change: changes topic "account").
        try:
            state = await self._states.get_or_load(principal.subject, self._account_state)
        except ServiceUnavailable:
            # The database is away: the token verified, and lives 15 minutes at most, so it
            # goes on as it is, as self-contained tokens did before this check (outages
            # must not take every API call down; docs/deployment.md).
            return principal
        if state is None or not state.active:
            raise InvalidToken(detail="the token's account is gone or not active")
        if not principal.roles <= state.roles:
            # Roles removed since the token was issued are gone now; roles added since then
            # come with the next token (a token never gains what it did not carry).
            principal = replace(principal, roles=principal.roles & state.roles)
        return principal

    async def _account_state(self, account_id: str) -> _AccountState | Literal[Miss.MISS]:
        async with self.db.read() as session:
            status = await session.scalar(select(Account.status).where(Account.id == account_id))
            if status is None:
                return MISS  # not cached: anyone may present tokens naming made-up accounts
            roles = frozenset(await roles_of(session, account_id))
        return _AccountState(status == "active", roles)
